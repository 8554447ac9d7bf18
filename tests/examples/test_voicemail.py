from __future__ import annotations

import pytest


@pytest.fixture
def example(load_example):
    return load_example("voicemail")


@pytest.fixture
def app(example):
    return example.app


def record_message(phone):
    call = phone.call(from_number="+6598765432")
    assert call.prompts == [
        "You have reached Jane Tan. I cannot take your call right now.",
        "Please leave your message after the tone. Press hash when you are done."]
    call.speak(seconds=3)
    call.press("#")
    return call


def test_the_caller_hears_the_message_back_and_keeps_it(phone, example):
    call = record_message(phone)
    recording = call.state["recording"]
    assert call.last_prompt.startswith("You said: [audio " + recording)
    call.press("1")
    assert call.last_prompt == "Your message has been saved. Goodbye."
    assert example.messages == [{"from": "+6598765432", "recording": recording}]


def test_the_caller_records_again(phone, example):
    call = record_message(phone)
    first = call.state["recording"]
    call.press("2")
    assert call.last_prompt.startswith("Please leave your message")
    call.speak(seconds=2)
    call.press("#")
    call.press("1")
    assert [m["recording"] for m in example.messages] == [call.state["recording"]]
    assert call.state["recording"] != first


def test_no_choice_keeps_the_message(phone, example):
    call = record_message(phone)
    call.wait(60)
    assert call.call_state == "ended"
    assert len(example.messages) == 1


def test_hanging_up_while_reviewing_keeps_the_message(phone, example):
    call = record_message(phone)
    call.hangup()
    assert call.call_state == "ended"
    assert example.messages == [{"from": "+6598765432", "recording": call.state["recording"]}]


def test_hanging_up_before_recording_keeps_nothing(phone, example):
    call = phone.call()
    call.hangup()
    assert example.messages == []

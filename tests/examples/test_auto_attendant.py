from __future__ import annotations

import pytest


@pytest.fixture
def example(load_example):
    return load_example("auto_attendant")


@pytest.fixture
def app(example):
    return example.app


def test_the_menu_is_heard_first(phone):
    call = phone.call()
    assert call.prompts == ["Welcome to Acme. Press 1 for sales, 2 for support, or 0 to leave "
                            "a message."]


@pytest.mark.parametrize("key, number", [("1", "+6522222222"), ("2", "+6533333333")])
def test_a_key_transfers_to_the_team(phone, key, number):
    call = phone.call()
    call.press(key)
    assert call.transferred_to == number
    assert call.blocks[-1][0] == "transfer"


@pytest.mark.parametrize("behaviour", ["busy", "unanswered", "failed"])
def test_a_team_that_does_not_answer_leads_to_voicemail(phone, example, behaviour):
    phone.set_behaviour("+6522222222", behaviour)
    call = phone.call(from_number="+6598765432")
    call.press("1")
    assert "Everyone is busy right now" in call.last_prompt
    call.speak(seconds=4)
    call.press("#")
    assert call.last_prompt == "Thank you. We will call you back. Goodbye."
    assert call.call_state == "ended"
    [voicemail] = example.voicemails
    assert voicemail["from"] == "+6598765432"
    # On Twilio the app gets the RecordingUrl with ".wav", the form a prompt can play.
    assert voicemail["recording"] in (call.recordings[0]["url"],
                                      call.recordings[0]["url"] + ".wav")


def test_zero_goes_straight_to_voicemail(phone, example):
    call = phone.call()
    call.press("0")
    assert call.last_prompt.startswith("Sorry we missed you.")
    call.speak(seconds=2)
    call.wait(60)                     # max_duration ends the recording
    assert call.call_state == "ended"
    assert len(example.voicemails) == 1


def test_an_invalid_key_replays_the_menu(phone):
    call = phone.call()
    call.press("7")
    assert call.last_prompt.startswith("Sorry, that is not an option. Press 1 for sales")
    call.press("2")
    assert call.transferred_to == "+6533333333"


def test_no_key_at_all_hangs_up(phone):
    call = phone.call()
    call.wait(120)                    # three attempts of ten seconds each, and the prompts
    assert call.last_prompt == "We did not hear your choice. Goodbye."
    assert call.call_state == "ended"


def test_hanging_up_mid_menu_ends_the_call_with_billing(phone):
    call = phone.call()
    call.hangup()
    assert call.call_state == "ended"
    assert call.billing["currency"] in ("SGD", "USD")        # Hoiio's, Twilio's
    assert call.billing["duration"] == "1"

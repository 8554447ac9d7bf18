from __future__ import annotations

from pathlib import Path

import pytest

from hoiivr.testing import replay

TRACES = Path(__file__).parent / "traces"


@pytest.fixture
def example(load_example):
    return load_example("auto_attendant")


@pytest.fixture
def app(example):
    return example.app


def test_the_menu_is_heard_first(phone):
    call = phone.call()
    assert call.prompts == ["Welcome to Acme.", "Press 1 for sales, 2 for support, or 0 to "
                            "leave a message."]


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


def test_no_key_at_all_is_asked_again_then_hangs_up(phone):
    call = phone.call()
    call.wait(15)
    assert call.last_prompt.startswith("Sorry, we did not hear your choice. Press 1 for sales")
    call.wait(120)                    # asked three times in all, ten seconds each
    assert call.last_prompt == "We did not hear your choice. Goodbye."
    assert call.call_state == "ended"


def test_hanging_up_mid_menu_ends_the_call_with_billing(phone):
    call = phone.call()
    call.hangup()
    assert call.call_state == "ended"
    assert call.billing["currency"] in ("SGD", "USD")        # Hoiio's, Twilio's
    assert call.billing["duration"] == "1"


def test_a_call_recorded_with_hoiivr_dev_still_goes_the_same_way(app, example, carrier):
    # Recorded with hoiivr dev --record: /busy +6522222222, 1, /speak 3, #, on each carrier.
    # The replay scripts sales as busy again, from the trace.
    suffix = "" if carrier == "hoiio" else f"-{carrier}"
    [result] = replay(TRACES / f"auto-attendant-sales-busy-voicemail{suffix}.jsonl", app)
    assert result.ok
    assert [e["type"] for e in result.got.observed][-2:] == ["end", "recording"]
    assert example.voicemails[0]["from"] == "+6591200000"    # the masked caller, zero-filled

from __future__ import annotations

import pytest

#: Conference rooms are not in the TwiML subset hoiivr supports (TWIML.md §3): a room is
#: joined on Hoiio only; on Twilio the caller hears the apology instead.
HOIIO_ONLY = pytest.mark.parametrize("carrier", ["hoiio"], indirect=True)
APOLOGY = "Sorry, something went wrong. Please call again later. Goodbye."


@pytest.fixture
def app(load_example):
    return load_example("conference").app


@HOIIO_ONLY
def test_the_right_pin_joins_the_room(phone):
    call = phone.call()
    assert call.last_prompt.startswith("Welcome to the weekly sync.")
    call.press("1234")
    assert call.transferred_to == "room:weekly_sync"


@HOIIO_ONLY
def test_a_wrong_pin_asks_again_then_the_right_one_joins(phone):
    call = phone.call()
    call.press("0000")
    assert call.last_prompt.startswith("That PIN is not correct.")
    call.press("1234")
    assert call.transferred_to == "room:weekly_sync"


def test_three_wrong_pins_hang_up(phone):
    call = phone.call()
    for pin in ("1111", "2222", "3333"):
        call.press(pin)
    assert call.last_prompt == "Sorry, we could not verify your PIN. Goodbye."
    assert call.call_state == "ended"
    assert call.transferred_to is None


def test_no_pin_hangs_up(phone):
    call = phone.call()
    call.wait(100)
    assert call.call_state == "ended"
    assert call.last_prompt == "Sorry, we could not verify your PIN. Goodbye."


@pytest.mark.parametrize("carrier", ["twilio"], indirect=True)
def test_on_twilio_the_room_is_an_apology_not_silence(phone):
    call = phone.call()
    call.press("1234")
    assert call.last_prompt == APOLOGY
    assert call.call_state == "ended" and call.transferred_to is None

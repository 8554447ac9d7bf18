from __future__ import annotations

import pytest


@pytest.fixture
def example(load_example):
    return load_example("appointment_reminder")


@pytest.fixture
def app(example):
    return example.app


def remind(app, number="+6598765432"):
    response = app.test_client().post("/remind", data={"number": number})
    assert response.status_code == 200
    return response.get_json()["session"]


def test_the_patient_confirms(phone, app, example):
    session = remind(app)
    [call] = phone.dialled
    assert call.session == session
    assert call.last_prompt.startswith("Hello, this is City Clinic. You have an appointment")
    call.press("1")
    assert call.last_prompt == "Thank you, your appointment is confirmed. Goodbye."
    assert example.outcomes == {"+6598765432": "confirmed"}


def test_the_patient_reschedules(phone, app, example):
    remind(app)
    [call] = phone.dialled
    call.press("2")
    assert call.last_prompt.startswith("Press 1 for Monday")
    call.press("3")
    assert example.outcomes == {"+6598765432": "moved to Friday at 11 a.m."}
    assert call.call_state == "ended"


def test_a_wrong_slot_ends_with_a_promise_to_call_back(phone, app, example):
    remind(app)
    [call] = phone.dialled
    call.press("2")
    call.press("9")
    assert example.outcomes == {"+6598765432": "no answer"}


def test_an_invalid_key_asks_again_and_silence_gives_up(phone, app, example):
    remind(app)
    [call] = phone.dialled
    call.press("5")
    assert call.last_prompt.startswith("Sorry, that is not an option.")
    call.wait(200)
    assert call.call_state == "ended"
    assert example.outcomes == {"+6598765432": "no answer"}


@pytest.mark.parametrize("behaviour", ["busy", "unanswered", "failed"])
def test_an_unreachable_patient_is_recorded(phone, app, example, behaviour):
    phone.set_behaviour("+6598765432", behaviour)
    remind(app)
    [call] = phone.dialled
    assert call.call_state == "ended"
    assert example.outcomes == {"+6598765432": f"unreachable ({behaviour})"}


def test_the_patient_can_call_back(phone, example):
    call = phone.call(from_number="+6598765432")
    assert call.last_prompt.startswith("Welcome to City Clinic.")
    call.press("1")
    assert example.outcomes == {"+6598765432": "confirmed"}


@pytest.mark.parametrize("form", [{"number": " 6598765432"}, {}])
def test_a_number_that_cannot_be_dialled_is_a_400_that_says_why(phone, app, form):
    response = app.test_client().post("/remind", data=form)
    assert response.status_code == 400 and "dest=" in response.get_json()["error"]
    assert phone.dialled == []

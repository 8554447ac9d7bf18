"""Every path of the DESIGN.md app, in-process and over real HTTP."""
from __future__ import annotations

import pytest

from .design_app import SALES

MENU = "Press 1 for sales, 2 for support."


def test_sales_answers(line):
    line.set_behaviour(SALES, "answer", talk_seconds=30)
    call = line.call()
    assert call.prompts == [MENU]
    call.press("1")
    assert call.transferred_to == SALES
    call.wait(31)
    assert call.call_state == "ended"
    [(session, minutes, debit, state)] = line.app.ended
    assert session == call.session and minutes == 1 and str(debit) == "0.020"


@pytest.mark.parametrize("behaviour", ["busy", "unanswered"])
def test_sales_busy_leads_to_voicemail(line, behaviour):
    line.set_behaviour(SALES, behaviour)
    call = line.call()
    call.press("1")
    assert call.last_prompt == "Sales is busy. Leave a message after the tone."
    call.speak(3)
    call.press("#")
    assert call.call_state == "ended"
    assert call.last_prompt == "Thank you. Goodbye."
    [(_, _, _, state)] = line.app.ended
    assert state["voicemail"] == call.info["recordings"][0]["url"]


def test_an_invalid_key_is_asked_again(line):
    call = line.call()
    call.press("7")
    assert call.last_prompt == "Sorry, that is not an option. " + MENU
    call.press("1")
    assert call.transferred_to == SALES


def test_no_key_hangs_up(line):
    call = line.call()
    call.wait(3 * 15)
    assert call.prompts[-2:] == ["Goodbye."] or call.prompts[-1] == "Goodbye."
    assert call.call_state == "ended"
    assert len(line.app.ended) == 1


def test_the_caller_hanging_up_mid_menu_reaches_on_hangup_with_billing(line):
    call = line.call()
    call.hangup()
    assert call.call_state == "ended"
    [(session, minutes, debit, state)] = line.app.ended
    assert (session, minutes, str(debit), state) == (call.session, 1, "0.020", {})


@pytest.mark.parametrize("behaviour, outcome", [("answer", "answered"),
                                                ("unanswered", "unanswered"),
                                                ("busy", "busy")])
def test_an_outbound_call(line, behaviour, outcome):
    line.set_behaviour("+6598765432", behaviour)
    with line.app.app_context():
        reply = line.app.ivr.dial("+6598765432", name="reminder", state={"who": "Ann"},
                                  app=line.app)
    [call] = line.dialled()
    assert call.session == reply.session
    assert line.app.outbound == [(outcome, "+6598765432", "Ann")]
    if outcome == "answered":
        assert call.last_prompt == "This is your reminder. Goodbye."
    assert call.call_state == "ended"
    assert len(line.app.ended) == 1

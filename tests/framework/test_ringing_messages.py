"""Words said to a call that still rings are heard: the call is answered first.

A Hangup on a ringing call rejects it, so its message would never be heard; every path that
ends a ringing call with words (the app's own Hangup, the apology after a failing handler,
the goodbye after a handler that returns nothing) answers it first. A bare Hangup() still
rejects the call unanswered: that is how an app refuses one.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
from flask import Flask

from hoiivr import IVR, Hangup, Play
from hoiivr.testing import Phone


def phone_for(answer: Callable[[Any], Any]) -> Phone:
    app = Flask("ringing_app")
    ivr = IVR(app)
    ivr.on_answer(answer)
    return Phone(app)


def broken(call: Any) -> Any:
    raise LookupError("no such account")


@pytest.mark.parametrize("answer, heard", [
    (lambda call: Hangup("Sorry, we are closed."), "Sorry, we are closed."),
    (broken, "Sorry, something went wrong. Please call again later. Goodbye."),
    (lambda call: None, "Goodbye."),
    (lambda call: [Hangup("Closed for the holidays."), ], "Closed for the holidays."),
])
def test_a_message_ending_a_ringing_call_is_heard(answer: Callable[[Any], Any],
                                                  heard: str) -> None:
    with phone_for(answer) as phone:
        call = phone.call()
        assert call.prompts == [heard]
        assert call.call_state == "ended"
        assert call.info["answered_at"] is not None       # answered, then hung up
        assert [kind for kind, _ in call.blocks] == ["play", "hangup"]
        assert "msg" not in call.blocks[1][1]             # the words were said once


def test_a_bare_hangup_still_rejects_the_call_unanswered() -> None:
    with phone_for(lambda call: Hangup()) as phone:
        call = phone.call()
        assert call.prompts == [] and call.call_state == "ended"
        assert call.info["answered_at"] is None
        assert call.billing is not None and call.billing["duration"] == "0"


def test_a_forced_hangup_hangs_up_at_once_without_words() -> None:
    with phone_for(lambda call: Hangup("Never said.", force=True)) as phone:
        call = phone.call()
        assert call.prompts == [] and call.info["answered_at"] is None


def test_a_message_after_the_call_was_answered_needs_no_play() -> None:
    with phone_for(lambda call: [Play("Hello."), Hangup("Goodbye now.")]) as phone:
        call = phone.call()
        assert call.prompts == ["Hello.", "Goodbye now."]
        assert [kind for kind, _ in call.blocks] == ["play", "hangup"]

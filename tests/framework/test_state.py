"""call.state keeps JSON values: a value it cannot keep is refused on the line that sets it,
naming the key and what to store instead; the call goes on to the apology, with its state
as it was before the handler ran."""
from __future__ import annotations

import datetime
import decimal
import logging
from typing import Any, Callable

import pytest
from flask import Flask

from hoiivr import IVR, Call, Gather, Hangup
from hoiivr.errors import StateError
from hoiivr.notification import Notification
from hoiivr.testing import Phone

APOLOGY = "Sorry, something went wrong. Please call again later. Goodbye."
KEEPS = ("call.state keeps JSON values only (str, int, float, bool, None, and lists and dicts "
         "of them)")


def menu_app(change: Callable[[Any], None]) -> Flask:
    """On answer the state holds a list; pressing a key runs ``change(call)``."""
    app = Flask("state_app")
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call):
        call.state.update(visits=1, slots=["9:00"])
        return Gather("Press 1.", max_digits=1, name="menu")

    @ivr.on_gather("menu")
    def menu(call):
        call.state["visits"] = 2
        change(call)
        return Hangup("Done.")

    return app


def press_1(change: Callable[[Any], None], caplog: pytest.LogCaptureFixture) -> tuple[Any, str]:
    """Call the app, press 1; returns the call and the error logged for it."""
    with Phone(menu_app(change)) as phone, caplog.at_level(logging.ERROR, "hoiivr"):
        call = phone.call().press("1")
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert call.last_prompt == APOLOGY and call.call_state == "ended"
        assert call.state == {"visits": 1, "slots": ["9:00"]}     # as before the handler
        return call, "\n".join(errors)


def test_a_datetime_is_refused_where_it_is_set_naming_the_key(caplog):
    def change(call):
        call.state["when"] = datetime.datetime(2026, 1, 2, 9, 30)

    _, error = press_1(change, caplog)
    assert f'menu failed: call.state["when"] cannot hold a datetime: {KEEPS}; store ' \
           "when.isoformat(), and read it back with datetime.fromisoformat()" in error


def test_a_value_changed_in_place_is_caught_when_the_handler_returns(caplog):
    def change(call):
        call.state["slots"].append(datetime.date(2026, 1, 2))

    _, error = press_1(change, caplog)
    assert f'call.state["slots"][1] cannot hold a date: {KEEPS}; store value.isoformat(), ' \
           "and read it back with date.fromisoformat()" in error


def test_nan_is_refused_rather_than_failing_in_the_store(caplog):
    def change(call):
        call.state["score"] = float("nan")

    _, error = press_1(change, caplog)
    assert 'call.state["score"] cannot hold nan (JSON has no NaN or infinity)' in error
    assert "state unavailable" not in error


@pytest.mark.parametrize("value, told", [
    ({"tags": {"a"}}, 'call.state["x"]["tags"] cannot hold a set: ' + KEEPS +
     "; store sorted(value), a list"),
    (decimal.Decimal("1.50"), 'call.state["x"] cannot hold a Decimal: ' + KEEPS +
     "; store str(x), and read it back with Decimal()"),
    ([1, (2, b"3")], 'call.state["x"][1][1] cannot hold a bytes: ' + KEEPS +
     "; store value.decode(), or its base64 text"),
    (object(), 'call.state["x"] cannot hold an object: ' + KEEPS + "; store what it is made "
     "of (its fields as a dict, its text, or an id to look it up by)"),
    ({(1, 2): "pair"}, 'call.state["x"] has the key (1, 2) (tuple); JSON keys are text: '
     + KEEPS),
])
def test_every_way_to_set_a_value_is_checked(value, told):
    state = _new_state()
    for set_it in (lambda: state.__setitem__("x", value), lambda: state.update(x=value),
                   lambda: state.update({"x": value}), lambda: state.setdefault("x", value),
                   lambda: state.__ior__({"x": value})):
        with pytest.raises(StateError) as info:
            set_it()
        assert str(info.value).startswith(told) and info.value.key == "x"
        assert "x" not in state


def test_keys_are_text():
    state = _new_state()
    with pytest.raises(StateError, match=r'^call.state\[1\]: the keys of call.state are text '
                                         r'\(JSON would turn 1 into "1"\); use "1"$'):
        state[1] = "one"
    state.update({"ok": [1, 2.5, True, None, {"a": "b"}]}, more="yes")
    assert state == {"ok": [1, 2.5, True, None, {"a": "b"}], "more": "yes"}


def test_a_dialled_calls_state_is_checked_before_it_is_placed():
    app = Flask("dial_state_app")
    ivr = IVR(app)
    ivr.on_dial_answered(lambda call: Hangup("Hello."))
    with Phone(app) as phone:
        with pytest.raises(StateError, match=r'^ivr.dial\(state=...\)\["due"\] cannot hold a '
                                             r"datetime"):
            ivr.dial("+6591234567", state={"due": datetime.datetime(2026, 1, 2)}, app=app)
        assert phone.sim.calls() == []


def _new_state() -> Any:
    """An empty call.state, as a handler gets it."""
    return Call("S1", {}, Notification("S1", "ongoing")).state

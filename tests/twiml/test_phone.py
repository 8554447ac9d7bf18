"""Phone(app) on a Twilio app: the same API as on Hoiio, over a TwiML number."""
from __future__ import annotations

import sys
from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play, Transfer
from hoiivr.errors import ConfigError
from hoiivr.testing import Phone


def make_app(**config: Any) -> tuple[Flask, IVR]:
    app = Flask("phone_on_twilio")
    app.config.update(HOIIVR_CARRIER="twilio", **config)
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call: Any) -> Any:
        call.state["visits"] = 1
        return [Play("Hello."), Gather("Press 1.", max_digits=1, name="menu")]

    @ivr.on_gather("menu")
    def menu(call: Any) -> Any:
        call.state["choice"] = call.digits
        return Transfer("+6522222222", msg="Connecting.", on_failure="continue", name="x")

    @ivr.on_transfer_failed("x")
    def failed(call: Any) -> Hangup:
        return Hangup("Busy. Goodbye.")

    @ivr.on_dial_answered
    def dialled(call: Any) -> Hangup:
        return Hangup("Reminder. Goodbye.")

    return app, ivr


def test_a_call_reads_the_same_on_twilio() -> None:
    app, _ = make_app()
    with Phone(app) as phone:
        assert phone.carrier == "twilio"
        phone.set_behaviour("+6522222222", "busy")
        call = phone.call()
        assert call.call_state == "ongoing" and call.prompts == ["Hello.", "Press 1."]
        call.press("1")
        assert call.last_prompt == "Busy. Goodbye." and call.call_state == "ended"
        assert call.state == {"visits": 1, "choice": "1"}
        assert [name for name, _ in call.blocks] == ["play", "gather", "play", "transfer",
                                                     "play", "hangup"]
        assert call.blocks[1][1]["num_digits"] == 1
        assert call.billing is not None and call.billing["currency"] == "USD"
        assert "webhook       voice POST http://app.test/twilio/answer" in call.describe()
        assert call.session.startswith("CA")


def test_the_app_calls_out_from_its_own_number_or_the_phones() -> None:
    app, ivr = make_app(TWILIO_FROM_NUMBER="+6561111111")
    with Phone(app) as phone:
        with app.app_context():
            placed = ivr.dial("+6598765432", name="reminder")
        [call] = phone.dialled
        assert call.session == placed.session
        assert call.prompts == ["Reminder. Goodbye."] and call.call_state == "ended"
        assert call.blocks[0][0] == "dial"
        assert call.blocks[0][1]["From"] == "+6561111111"
    app, ivr = make_app()
    with Phone(app) as phone:
        with app.app_context():
            ivr.dial("+6598765432", name="reminder")
        [call] = phone.dialled
        assert call.blocks[0][1]["From"] == phone.number


def test_the_app_gets_back_its_own_wiring() -> None:
    app, ivr = make_app(TWILIO_ACCOUNT_SID="AC" + "3" * 32, TWILIO_AUTH_TOKEN="real",
                        SECRET_KEY="s")
    with Phone(app):
        pass
    with app.app_context():
        assert ivr.runtime().carrier.auth_token == "real"            # type: ignore[attr-defined]


def test_without_the_twilio_package_the_error_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = make_app()
    for name in [m for m in sys.modules if m.startswith("hoiivr.carriers.twilio")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [m for m in sys.modules if m == "twilio" or m.startswith("twilio.")]:
        monkeypatch.setitem(sys.modules, name, None)       # as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[twilio\]'"):
        Phone(app)

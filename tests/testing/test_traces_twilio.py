"""Traces and replays of calls on the Twilio carrier: the verbs the app sent are its blocks,
so a replay compares them as it compares a Hoiio app's."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Transfer
from hoiivr.simulator.trace import Trace
from hoiivr.testing import Phone, ReplayMismatch, replay

CALLER = "+6598765432"
SALES = "+6522222222"


def make_app(timeout: int = 5, greeting: str = "Hello, this is Acme.") -> Flask:
    app = Flask(__name__)
    app.config["HOIIVR_CARRIER"] = "twilio"
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call):
        return Gather("Press 1 for sales.", max_digits=1, timeout=timeout, name="menu")

    @ivr.on_gather("menu")
    def menu(call):
        if call.digits == "1":
            return Transfer(SALES, msg="Connecting you.", on_failure="continue", name="sales")
        return Hangup("Goodbye.")

    @ivr.on_transfer_failed("sales")
    def busy(call):
        return Hangup("Sales is busy.")

    @ivr.on_dial_answered("callback")
    def answered(call):
        return Gather("Press 1 to talk to sales.", max_digits=1, timeout=timeout, name="menu")

    app.config["GREETING"] = greeting
    return app


def call_back(app: Flask) -> None:
    app.extensions["hoiivr"].handlers.dial(CALLER, msg=app.config["GREETING"],
                                           name="callback", app=app)


def record_incoming(app: Flask, path: Path) -> Path:
    with Phone(app) as phone:
        call = phone.call(from_number=CALLER)
        call.press("1")
        call.wait(40)
        return call.save_trace(path)


def record_placed(app: Flask, path: Path, behaviour: str = "answer",
                  mask: bool = True) -> Path:
    with Phone(app) as phone:
        phone.set_behaviour(CALLER, behaviour)
        call_back(app)
        [call] = phone.dialled
        if behaviour == "answer":
            call.press("2")
        return call.save_trace(path, mask=mask)


def test_the_verbs_the_app_sent_are_its_blocks(tmp_path):
    trace = Trace.load(record_incoming(make_app(), tmp_path / "call.jsonl"))
    blocks = [(e["kind"], e["step"]) for e in trace.observed if e["type"] == "block"]
    assert blocks == [("gather", "menu"), ("play", None), ("transfer", "sales")]
    gather = trace.observed[0]
    assert gather["params"]["timeout"] == 5.0 and gather["params"]["num_digits"] == 1
    assert "action" not in gather["params"]
    prompt = next(e for e in trace.observed if e["type"] == "prompt")
    assert prompt["step"] == "menu"
    text = (tmp_path / "call.jsonl").read_text()
    assert "/notify/" not in text and CALLER not in text


def test_a_twilio_call_replays_the_same(tmp_path):
    [result] = replay(record_incoming(make_app(), tmp_path / "call.jsonl"), make_app())
    assert result.ok, result.report()


def test_a_changed_gather_on_twilio_is_a_difference(tmp_path):
    path = record_incoming(make_app(), tmp_path / "call.jsonl")
    with pytest.raises(ReplayMismatch) as failed:
        replay(path, make_app(timeout=10))
    text = str(failed.value)
    assert 'expected: gather "menu"' in text and "  timeout: 5.0 -> 10.0" in text


@pytest.mark.parametrize("mask", [True, False])
def test_a_placed_twilio_call_replays(tmp_path, mask):
    path = record_placed(make_app(), tmp_path / "placed.jsonl", mask=mask)
    dial = Trace.load(path).observed[0]
    assert (dial["type"], dial["kind"], dial["step"]) == ("block", "dial", "callback")
    assert "StatusCallback" not in dial["params"] and "/notify/" not in str(dial["params"])
    [result] = replay(path, make_app())
    assert result.ok, result.report()


def test_a_placed_twilio_call_answered_otherwise_is_a_difference(tmp_path):
    path = record_placed(make_app(), tmp_path / "placed.jsonl")
    assert "Hello, this is Acme." in Trace.load(path).observed[0]["params"]["Twiml"]
    with pytest.raises(ReplayMismatch) as failed:
        replay(path, make_app(timeout=10))
    assert 'expected: gather "menu"' in str(failed.value)
    assert "  timeout: 5.0 -> 10.0" in str(failed.value)


@pytest.mark.parametrize("behaviour", ["busy", "unanswered", "failed"])
def test_a_placed_twilio_call_nobody_answered_replays(tmp_path, behaviour):
    """The dialled phone's behaviour is in the trace (a dest_phone), as on Hoiio: the replay
    scripts it again, and the call goes as it went."""
    path = record_placed(make_app(), tmp_path / "placed.jsonl", behaviour)
    [result] = replay(path, make_app())
    assert result.ok, result.report()

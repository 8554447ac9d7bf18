"""Genuine signed bodies, captured and sent again: a call never starts twice, and a step's
body never re-runs another step."""
from __future__ import annotations

from typing import Any

from flask import Flask

from hoiivr import IVR, Gather, Hangup

SESSION = "S900000001"
ENDED = {"session": SESSION, "call_state": "ended", "ivr_block": "answer", "tag": "",
         "txn_ref": "AA-C-900000001", "date": "2026-12-04 10:00:00", "duration": "1",
         "currency": "SGD", "rate": "0.020", "debit": "0.020"}


def menu_app() -> tuple[Flask, IVR, list[str]]:
    app = Flask("replay_app")
    ivr = IVR(app)
    runs: list[str] = []

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        runs.append("answer")
        return Gather("Press 1.", max_digits=1, name="menu")

    @ivr.on_gather("menu")
    def menu(call: Any) -> Any:
        runs.append(f"menu {call.digits}")
        return Gather("And again.", max_digits=1, name="menu") if call.digits == "1" \
            else Hangup("Bye.")

    return app, ivr, runs


def test_a_ringing_replayed_hours_after_the_call_ended_starts_nothing(
        serve: Any, advance: Any, tally: Any) -> None:
    app, ivr, runs = menu_app()
    served = serve(app, ivr)
    served.ring()
    served.post("/hoiio/answer", ENDED)          # the caller hangs up
    runs.clear()
    sent = len(served.sent())
    bad, now = 0, 0.0
    for hours in (0.2, 1, 6, 23):                # well past the old 10-minute marker
        advance((hours - now) * 3600)
        now = hours
        assert served.ring().status_code == 200
        bad += len(runs) + len(served.sent()) - sent
    tally.add("signed ringing replayed within a day of the call's end", 4, bad)
    assert runs == [] and len(served.sent()) == sent

"""A handler slower than the call's lease, and a duplicate of its notification meanwhile:
the duplicate may run the step again, but the block goes out once (the write-ahead is a
compare-and-set on the lease: the slow worker finds it lost and sends nothing)."""
from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Gather, Play


def slow_app() -> tuple[Flask, IVR, threading.Event, threading.Event, list[str]]:
    app = Flask("slow_app")
    ivr = IVR(app)
    entered, release, runs = threading.Event(), threading.Event(), []

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        return Gather("Press 1.", max_digits=1, name="menu")

    @ivr.on_gather("menu")
    def menu(call: Any) -> Play:
        runs.append(call.digits)
        if len(runs) == 1:                  # the first run is slow: a database that hangs
            entered.set()
            release.wait(30)
        return Play(f"You pressed {call.digits}.", name="said")

    return app, ivr, entered, release, runs


def test_the_step_of_a_lapsed_lease_is_sent_once(serve: Any, advance: Any, tally: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    app, ivr, entered, release, runs = slow_app()
    served = serve(app, ivr)
    assert served.ring().status_code == 200
    path = served.last_notify_path()
    gather = {"session": "S900000001", "call_state": "ongoing", "ivr_block": "gather",
              "digits": "1", "tag": served.sent()[-1].get("tag", ""),
              "txn_ref": "AA-C-900000001"}
    replies: list[int] = []
    first = threading.Thread(target=lambda: replies.append(served.post(path, gather).status_code))
    with caplog.at_level(logging.WARNING, "hoiivr"):
        first.start()
        assert entered.wait(10)
        advance(61)                          # the lease (60 s) lapses under the slow handler
        assert served.post(path, gather).status_code == 200     # the duplicate, 16 s in
        release.set()
        first.join(30)
    plays = served.sent("ivr/middle/play")
    tally.add("slow handler + duplicate after its lease lapsed", 1, len(plays) - 1)
    assert replies == [200]
    assert runs == ["1", "1"]                # the duplicate ran the step again ...
    assert len(plays) == 1                   # ... but its block went out once
    assert "lapsed while this notification was handled" in caplog.text


def test_a_slow_handler_is_logged_with_its_name_and_time(
        serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = Flask("slower_app")
    app.config["HOIIVR_SLOW_HANDLER"] = "0.05"
    ivr = IVR(app)

    @ivr.on_answer
    def look_up_the_account(call: Any) -> Play:
        threading.Event().wait(0.1)          # a database that takes its time
        return Play("Welcome back.")

    served = serve(app, ivr)
    with caplog.at_level(logging.WARNING, "hoiivr"):
        assert served.ring().status_code == 200
    [warning] = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert "look_up_the_account took 0.1 s" in warning
    assert "the caller waited meanwhile" in warning and "HOIIVR_SLOW_HANDLER" in warning

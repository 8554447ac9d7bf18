"""The same engine on the RealClock, over real HTTP: SimulatorServer and an app on port 0.

Timings are :data:`FAST` (prompts of milliseconds) and waits short, so these tests take a
fraction of a second each; they wait on conditions and ``settle``, not on fixed sleeps.
"""
from __future__ import annotations

import io
import threading
import time
import wave
from typing import Any

import pytest

from hoiivr.client import HoiioClient
from hoiivr.simulator import SettleTimeout

from .conftest import (APP_ID, BUSY, CALLER, GATHER, HANGUP, NUMBER, PLAY, RECORD, TOKEN,
                       TRANSFER, Note)


def test_a_voicemail_call_over_real_http(make_world: Any) -> None:
    w = make_world("real", wait=5.0)
    w.answer_with(GATHER, msg="Press 1 for sales.", max_digits=1, timeout=10,
                  notify_url=w.url("menu"))
    w.on_ongoing("menu", TRANSFER, dest=BUSY, on_failure="continue", msg="Connecting.",
                 notify_url=w.url("sales"))
    w.on_ongoing("sales", RECORD, msg="Leave a message.", max_duration=30,
                 notify_url=w.url("voicemail"))
    w.on_ongoing("voicemail", HANGUP, msg="Bye.", notify_url=w.url("done"))
    session = w.sim.call(CALLER, NUMBER)
    w.sim.settle(session, limit=5)
    assert w.sim.get_call(session)["state"] == "collecting"
    w.sim.press(session, "1")
    w.sim.settle(session, limit=5)
    assert w.sim.get_call(session)["state"] == "recording"
    w.sim.speak(session, 0.2)
    w.sim.settle(session, limit=5)                     # returns once the caller stopped
    w.sim.press(session, "#")
    w.sim.settle(session, limit=5)
    call = w.sim.get_call(session)
    assert call["state"] == "ended"
    assert [n.name for n in w.app.notes] == ["answer", "menu", "sales", "voicemail", "done"]
    assert w.app.named("sales")[0]["transfer_status"] == "busy"
    assert call["prompts"] == ["Press 1 for sales.", "Connecting.", "Leave a message.", "Bye."]
    url = w.app.named("voicemail")[0]["record_url"]
    assert url.startswith(w.server.url + "/sim/recordings/")
    with wave.open(io.BytesIO(w.rest.get(url, timeout=10).content)) as wav:
        assert wav.getnframes() / wav.getframerate() >= 0.2
    assert all(e["delivered"] for e in call["timeline"] if e["type"] == "notification")


def test_the_wait_runs_out_in_real_time(make_world: Any) -> None:
    w = make_world("real", wait=0.3)
    w.answer_with(PLAY, msg="Hi.", notify_url=w.url("play"))
    session = w.sim.call(CALLER, NUMBER)
    ended = w.app.wait_for(lambda n: n["call_state"] == "ended")
    assert ended.name == "play"
    times = {e["call_state"]: e["at"] for e in w.sim.get_call(session)["timeline"]
             if e["type"] == "notification" and e["ivr_block"] == "play"}
    # The wait must not fire early; how late a loaded machine lets it fire is not the point.
    assert 0.3 <= times["ended"] - times["ongoing"] < 10.0


def test_notifications_of_different_calls_are_delivered_concurrently(make_world: Any) -> None:
    w = make_world("real", wait=5.0)
    second_rang = threading.Event()
    overlapped: list[bool] = []

    def answer(note: Note) -> None:
        if note["call_state"] != "ringing":
            return
        if note["from"] == CALLER:                     # the first call's handler ...
            overlapped.append(second_rang.wait(5))     # ... waits for the second's
        else:
            second_rang.set()
        w.reply(note, HANGUP)
    w.app.on("answer", answer)
    first = w.sim.call(CALLER, NUMBER)
    second = w.sim.call("+6598765432", NUMBER)
    w.sim.settle(limit=10)
    assert overlapped == [True]
    assert w.sim.get_call(first)["state"] == w.sim.get_call(second)["state"] == "ended"


def test_settle_times_out_on_the_real_clock(make_world: Any) -> None:
    w = make_world("real", wait=60.0)
    session = w.sim.call(CALLER, NUMBER)
    began = time.monotonic()
    with pytest.raises(SettleTimeout, match="ringing"):
        w.sim.settle(session, limit=0.2)
    assert time.monotonic() - began < 5.0


def test_hoiio_client_over_real_http(make_world: Any) -> None:
    w = make_world("real", wait=5.0)
    client = HoiioClient(APP_ID, TOKEN, base_url=w.server.url + "/open/")
    try:
        session = w.sim.call(CALLER, NUMBER)
        assert client.gather(session, "Press.", max_digits=1,
                             notify_url=w.url("g")).is_success()
        assert client.gather(session, "Again.", notify_url=w.url("g")).status == \
            "error_session_not_ready"
        w.sim.settle(session, limit=5)
        w.sim.press(session, "9")
        note = w.app.wait_for(lambda n: n.name == "g")
        assert note["digits"] == "9"
        assert client.hangup(session).is_success()
        assert client.query_status(note["txn_ref"]).call_status in ("ongoing", "answered")
    finally:
        client.close()

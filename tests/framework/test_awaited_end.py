"""A call that ends during a Record on Twilio: the status callback may overtake the
Record's action, and ``on_hangup`` still runs once, with the recording (hoiivr/awaiting.py)."""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from datetime import datetime
from typing import Any

import pytest
from flask import Flask, current_app

from hoiivr import IVR, Hangup, Record
from hoiivr.awaiting import Deadlines, end_fields, end_notification
from hoiivr.notification import Notification
from hoiivr.testing import Phone, PhoneCall

PROMPT = "Speak."


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    """What ``on_hangup`` was given, once per run."""
    return []


@pytest.fixture
def phone(seen: list[dict[str, Any]]) -> Iterator[Phone]:
    app = Flask("awaited")
    app.config["HOIIVR_CARRIER"] = "twilio"
    ivr = IVR(app)
    ivr.on_answer(lambda call: Record(PROMPT, name="message"))
    ivr.on_record("message")(lambda call: Hangup("Thanks."))

    @ivr.on_hangup
    def ended(call: Any) -> None:
        # current_app: the end may run outside the request, in the app's context.
        seen.append({"record_url": call.record_url, "duration": call.duration,
                     "app": current_app.name})

    with Phone(app) as phone:
        yield phone


def order(call: PhoneCall) -> list[str]:
    """The Record's action and the status callback, in the order the app got them."""
    return [line.split()[2] for line in call.describe().splitlines()
            if " webhook " in line and " action " in line or " status_callback:completed " in line]


def test_a_status_callback_that_overtakes_the_action_keeps_the_recording(
        phone: Phone, seen: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    call = phone.call().speak(seconds=3)
    # With this seed the action is held back until the status callback has been sent.
    with caplog.at_level(logging.INFO, "hoiivr"):
        call.set_faults(reorder=0.5, seed=1).hangup()
    assert order(call) == ["status_callback:completed", "action"]
    assert "on_hangup waits up to 10 s for its result" in caplog.text
    [hangup] = seen
    assert hangup["record_url"].endswith(call.recordings[0]["file"])
    assert hangup["duration"] == 1                   # the status callback's part
    assert hangup["app"] == "awaited"


def test_a_dialled_call_waits_for_its_recording_too(seen: list[dict[str, Any]]) -> None:
    app = Flask("awaited_dial")
    app.config["HOIIVR_CARRIER"] = "twilio"
    ivr = IVR(app)
    ivr.on_dial_answered("survey")(lambda call: Record(PROMPT, name="message"))
    ivr.on_record("message")(lambda call: Hangup("Thanks."))
    ivr.on_hangup(lambda call: seen.append({"record_url": call.record_url}))
    with Phone(app) as phone:
        with app.app_context():
            ivr.dial("+6591110000", name="survey")
        [call] = phone.dialled
        call.speak(seconds=3).set_faults(reorder=0.5, seed=1).hangup()
        assert order(call) == ["status_callback:completed", "action"]
        assert seen == [{"record_url": call.recordings[0]["url"] + ".wav"}]


def test_in_the_usual_order_the_end_does_not_wait(
        phone: Phone, seen: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "hoiivr"):
        call = phone.call().speak(seconds=3).hangup()
    assert order(call) == ["action", "status_callback:completed"]
    [hangup] = seen
    assert hangup["record_url"].endswith(call.recordings[0]["file"])
    assert "waits up to" not in caplog.text


def test_an_end_whose_action_never_comes_runs_on_hangup_once_without_it(
        phone: Phone, seen: list[dict[str, Any]]) -> None:
    # Nothing said: an empty recording requests no action, and the status callback (sent
    # twice) is all the app hears.
    call = phone.call().set_faults(duplicate=1.0).hangup()
    assert order(call) == ["status_callback:completed", "status_callback:completed"]
    assert seen == [{"record_url": None, "duration": 1, "app": "awaited"}]


def test_the_wait_ends_on_its_own_in_the_apps_context() -> None:
    ran: list[str] = []
    app = Flask("waiting")
    deadlines = Deadlines(app.app_context)
    done = threading.Event()
    deadlines.at(0.05, "S1", lambda: (ran.append(current_app.name), done.set()))
    deadlines.at(0.01, "S1", lambda: ran.append("a second wait for the same call"))
    assert "S1" in deadlines and ran == []
    assert done.wait(5)
    time.sleep(0.05)
    assert ran == ["waiting"] and "S1" not in deadlines


def test_many_waits_share_one_thread_and_end_in_their_order() -> None:
    ran: list[str] = []
    deadlines = Deadlines()
    before = threading.active_count()
    for i in range(50):          # the last given is due first, in 0.5 s
        deadlines.at(1.0 - i / 100, f"S{i}", lambda i=i: ran.append(f"S{i}"))
    assert threading.active_count() <= before + 1
    deadline = time.monotonic() + 10
    while len(ran) < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ran == [f"S{i}" for i in reversed(range(50))]


def test_a_stopping_process_ends_its_waiting_calls_first() -> None:
    ran: list[str] = []
    deadlines = Deadlines()
    deadlines.at(60, "S1", lambda: ran.append("S1"))
    deadlines.at(60, "S2", lambda: ran.append("S2"))
    deadlines.run_all()
    assert sorted(ran) == ["S1", "S2"] and "S1" not in deadlines
    deadlines.run_now("S1")                          # nothing left to run
    assert sorted(ran) == ["S1", "S2"]


def test_a_process_that_exits_ends_its_waiting_calls_first() -> None:
    script = ("from hoiivr.awaiting import Deadlines\n"
              "deadlines = Deadlines()\n"
              "deadlines.at(60, 'S1', lambda: print('ended S1', flush=True))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout == "ended S1\n", done.stderr


def test_a_failing_end_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    @contextmanager
    def context() -> Iterator[None]:
        yield

    deadlines = Deadlines(context)
    deadlines.at(60, "S1", lambda: 1 / 0)
    with caplog.at_level(logging.ERROR, "hoiivr"):
        deadlines.run_now("S1")
    assert "awaited end failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_an_end_kept_in_the_record_comes_back_the_same() -> None:
    end = Notification("CA1", "ended", txn_ref="CA1", from_number="+6591234567",
                       date=datetime(2025, 1, 1, 9, 0), duration=2, rate=Decimal("0.014"),
                       debit=Decimal("0.028"), currency="USD", extra={"SipResponseCode": "200"})
    kept = end_fields(end)
    assert isinstance(kept["date"], str) and kept["rate"] == "0.014"
    assert end_notification(kept) == end
    assert end_notification({**kept, "a_later_field": "1"}) == end

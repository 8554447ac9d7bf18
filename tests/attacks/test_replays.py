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


def test_an_earlier_steps_body_replayed_to_the_current_url_runs_nothing(
        serve: Any, tally: Any) -> None:
    """Hoiio signs the body only: a captured genuine body of step 1, posted to step 2's
    notify URL, would re-run step 2 with step 1's input. Its tag proves step 1's URL."""
    app, ivr, runs = menu_app()
    served = serve(app, ivr)
    bad = 0
    for n in range(20):
        session = f"S9{n:08d}"
        served.ring(session)
        first_path, first_tag = served.last_notify_path(), served.sent()[-1]["tag"]
        step1 = {"session": session, "call_state": "ongoing", "ivr_block": "gather",
                 "digits": "1", "tag": first_tag, "txn_ref": "AA-C-900000001"}
        served.post(first_path, step1)             # genuine: the menu is asked again
        second_path = served.last_notify_path()
        runs.clear()
        sent = len(served.sent())
        reply = served.post(second_path, step1)    # the captured body, at step 2's URL
        bad += int(reply.status_code != 200) + len(runs) + len(served.sent()) - sent
        genuine = {**step1, "digits": "2", "tag": served.sent()[-1]["tag"]}
        assert served.post(second_path, genuine).status_code == 200
        assert runs == ["menu 2"]                  # the real step 2 still works
    tally.add("a step's signed body replayed to a later step's URL (Hoiio)", 20, bad)
    assert bad == 0


def test_a_forged_host_cannot_point_a_calls_next_notification_elsewhere(
        serve: Any, tally: Any, caplog: Any) -> None:
    """With no HOIIVR_PUBLIC_URL, a call's notify URLs start with the address its ringing
    came to, and keep it: a genuine body sent with another Host cannot move them."""
    app, ivr, runs = menu_app()
    served = serve(app, ivr, public=False)
    bad = 0
    for n in range(10):
        session = f"S8{n:08d}"
        served.ring(session)
        path, tag = served.last_notify_path(), served.sent()[-1]["tag"]
        body = {"session": session, "call_state": "ongoing", "ivr_block": "gather",
                "digits": "1", "tag": tag, "txn_ref": "AA-C-900000001"}
        reply = served.post(path, body, headers={"Host": "evil.example"})
        notify_url = served.sent()[-1]["notify_url"]
        bad += int(reply.status_code != 200) + int(not notify_url.startswith(served.server.url))
    tally.add("a genuine body sent with a forged Host (Hoiio, no public URL)", 10, bad)
    assert bad == 0
    assert "HOIIVR_PUBLIC_URL is not set" in caplog.text

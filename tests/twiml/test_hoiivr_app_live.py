"""A hoiivr app with HOIIVR_CARRIER=twilio, served over real HTTP, against the simulator
on a real port: menu, gather, record, the transfer-failed fallback and hang-up, with
every webhook checked by the Twilio carrier (a wrong, missing or altered signature
reaches no handler)."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from twilio.request_validator import RequestValidator

from hoiivr import IVR, Gather, Hangup, Record, Transfer
from hoiivr.carriers.twilio.simulated import client_for
from hoiivr.simulator import RealClock, Simulator, SimulatorServer, Timing
from hoiivr.stores import store_from_url
from hoiivr.testing import LiveServer

SID, TOKEN = "AC" + "9" * 32, "live-auth-token"
NUMBER, CALLER, SALES = "+6560000002", "+6591234567", "+6522222222"
QUICK = Timing(words_per_second=50.0, prompt_padding=0.01, audio_seconds=0.05,
               answer_after=0.5, unanswered_after=5.0, busy_after=0.2, failed_after=0.1)


def make_app() -> tuple[Flask, IVR, list[tuple[str, Any]]]:
    app = Flask("hoiivr_on_twilio")
    app.config.update(HOIIVR_CARRIER="twilio")
    ivr = IVR(app)
    seen: list[tuple[str, Any]] = []

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        seen.append(("answer", call.from_number))
        return Gather("Press 1 for sales, 2 to leave a message.", max_digits=1, timeout=5,
                      attempts=2, name="menu")

    @ivr.on_gather("menu")
    def menu(call: Any) -> Any:
        seen.append(("menu", call.digits))
        if call.digits == "1":
            return Transfer(SALES, msg="Connecting you.", on_failure="continue", name="sales")
        return voicemail("Leave a message, then press hash.")

    def voicemail(msg: str) -> Record:
        return Record(msg, max_duration=30, name="voicemail")

    @ivr.on_transfer_failed("sales")
    def busy(call: Any) -> Record:
        seen.append(("busy", call.transfer_status))
        return voicemail("Sales is busy. Leave a message, then press hash.")

    @ivr.on_record("voicemail")
    def saved(call: Any) -> Hangup:
        seen.append(("saved", call.record_url))
        return Hangup("Thank you. Goodbye.")

    @ivr.on_hangup
    def ended(call: Any) -> None:
        seen.append(("ended", call.duration))
        if call.record_url:          # the caller hung up while recorded: the message stays
            seen.append(("kept", call.record_url))

    return app, ivr, seen


@dataclass
class Live:
    sim: Simulator
    url: str
    app_url: str
    seen: list[tuple[str, Any]]
    http: requests.Session
    app: Flask | None = None

    def control(self, method: str, path: str, **body: Any) -> Any:
        reply = self.http.request(method, f"{self.url}/sim{path}", json=body or None,
                                  timeout=20)
        assert reply.status_code < 300, reply.text
        return reply.json()

    def settle(self, sid: str) -> dict[str, Any]:
        self.control("POST", "/settle", session=sid, limit=15)
        return self.control("GET", f"/calls/{sid}")


def serve(app_token: str = TOKEN, **config: Any) -> Iterator[Live]:
    app, ivr, seen = make_app()
    app.config.update(config)
    sim = Simulator(clock=RealClock(speed=10), timing=QUICK)
    server = SimulatorServer(sim)
    server.start()
    app_server = LiveServer(app).start()
    client = client_for(SID, app_token, server.url)
    ivr.init_app(app, client=client, public_url=app_server.url, secret_key="live-secret")
    answer = app_server.url + "/twilio/answer"
    sim.add_twilio_account(SID, TOKEN)
    sim.add_twiml_number(NUMBER, answer, status_callback=answer)
    http = requests.Session()
    try:
        yield Live(sim, server.url, app_server.url, seen, http, app)
    finally:
        http.close()
        app_server.stop()
        server.stop()
        sim.close()
        app.extensions["hoiivr"].close()
        client.http_client.session.close()


@pytest.fixture
def live() -> Iterator[Live]:
    yield from serve()


def call(live: Live) -> str:
    sid = live.control("POST", "/calls", **{"from": CALLER, "to": NUMBER})["session"]
    live.settle(sid)
    return str(sid)


def test_busy_sales_falls_back_to_voicemail_then_hangs_up(live: Live) -> None:
    live.control("PUT", f"/phones/{SALES}", behaviour="busy")
    sid = call(live)
    live.control("POST", f"/calls/{sid}/press", digits="1")
    info = live.settle(sid)
    assert info["state"] == "recording"
    live.control("POST", f"/calls/{sid}/speak", seconds=2)
    live.settle(sid)
    live.control("POST", f"/calls/{sid}/press", digits="#")
    info = live.settle(sid)
    assert info["state"] == "ended" and info["end_reason"] == "the app hung up (<Hangup>)"
    assert info["prompts"] == ["Press 1 for sales, 2 to leave a message.", "Connecting you.",
                               "Sales is busy. Leave a message, then press hash.",
                               "Thank you. Goodbye."]
    [rec] = info["recordings"]
    live.sim.settle(sid, limit=15)                  # the status callback is delivered
    assert live.seen == [("answer", CALLER), ("menu", "1"), ("busy", "busy"),
                         ("saved", rec["url"] + ".wav"), ("ended", 1)]
    assert live.http.get(rec["url"] + ".wav", timeout=5).content[:4] == b"RIFF"


def test_hanging_up_while_recorded_keeps_the_message(live: Live) -> None:
    sid = call(live)
    live.control("POST", f"/calls/{sid}/press", digits="2")
    assert live.settle(sid)["state"] == "recording"
    live.control("POST", f"/calls/{sid}/speak", seconds=1)
    live.settle(sid)
    live.control("POST", f"/calls/{sid}/hangup")   # hanging up while recorded
    info = live.settle(sid)
    live.sim.settle(sid, limit=15)
    assert info["state"] == "ended"
    [rec] = info["recordings"]
    # The Record's action (Digits=hangup) brings the recording, with no CallDuration, as on
    # Twilio; on_hangup runs once, at the status callback that follows with the duration,
    # and gets both.
    assert live.seen == [("answer", CALLER), ("menu", "2"), ("ended", 1),
                         ("kept", rec["url"] + ".wav")]


@pytest.fixture
def waiting() -> Iterator[Live]:
    """The app, waiting half a second for a Record's action the status callback overtook."""
    yield from serve(HOIIVR_ACTION_WAIT="0.5")


def test_a_status_callback_that_overtakes_the_action_waits_for_the_recording(
        waiting: Live) -> None:
    info, seen = hang_up_recorded(waiting, reorder=0.5, seed=1)
    # With this seed the action is held back until the status callback has been sent.
    assert sent(info)[-2:] == ["status_callback:completed", "action"]
    [rec] = info["recordings"]
    assert seen == [("ended", 1), ("kept", rec["url"] + ".wav")]


def test_an_action_that_never_comes_is_waited_for_then_the_call_ends(waiting: Live) -> None:
    info, seen = hang_up_recorded(waiting, drop_notification=0.5, seed=1)
    # With this seed the action is dropped; the status callback comes.
    assert sent(info)[-1:] == ["status_callback:completed"]
    assert info["timeline"][-2]["fault"] == "drop_notification"
    assert seen == []                               # on_hangup waits for the action
    deadline = time.monotonic() + 10
    while not waiting.seen[2:] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waiting.seen[2:] == [("ended", 1)]       # then runs without it, on a timer


def test_a_lapsed_wait_that_meets_a_held_lease_tries_again(
        waiting: Live, caplog: pytest.LogCaptureFixture) -> None:
    assert waiting.app is not None
    dispatcher = waiting.app.extensions["hoiivr"].runtime.dispatcher
    dispatcher.action_wait, dispatcher.lock_wait = 1.0, 0.1
    info, seen = hang_up_recorded(waiting, drop_notification=0.5, seed=1)
    assert seen == []                               # waiting for the dropped action
    # Another worker holds the call's lease when the wait lapses, and a while after.
    with caplog.at_level(logging.WARNING, "hoiivr"), \
            dispatcher.store.lock(info["session"], lease=10, wait=1):
        time.sleep(1.5)
        assert waiting.seen[2:] == []
    assert "could not be ended" in caplog.text
    deadline = time.monotonic() + 10
    while not waiting.seen[2:] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waiting.seen[2:] == [("ended", 1)]       # once, on the second try


def test_two_workers_on_one_shared_store_end_the_call_once_with_the_recording(
        shared_store_url: str) -> None:
    """The status callback reaches one worker, which waits; the Record's action, after it,
    another, which ends the call; the first's wait then finds the call over."""
    sim = Simulator(clock=RealClock(speed=10), timing=QUICK)
    server = SimulatorServer(sim).start()
    workers = [make_app() for _ in range(2)]
    servers = [LiveServer(app).start() for app, _, _ in workers]
    client = client_for(SID, TOKEN, server.url)
    for (app, ivr, _), worker in zip(workers, servers):
        app.config["HOIIVR_ACTION_WAIT"] = "0.5"
        # The first gets the calls, the second only their status callbacks.
        ivr.init_app(app, client=client, public_url=worker.url, secret_key="live-secret",
                     store=store_from_url(shared_store_url))
    sim.add_twilio_account(SID, TOKEN)
    sim.add_twiml_number(NUMBER, servers[0].url + "/twilio/answer",
                         status_callback=servers[1].url + "/twilio/answer")
    http = requests.Session()
    try:
        live = Live(sim, server.url, servers[0].url, workers[0][2], http)
        info, _ = hang_up_recorded(live, reorder=0.5, seed=1)
        assert sent(info)[-2:] == ["status_callback:completed", "action"]
        time.sleep(1.0)                              # the first worker's wait lapses
        [rec] = info["recordings"]
        assert workers[0][2][2:] == [("ended", 1), ("kept", rec["url"] + ".wav")]
        assert workers[1][2] == []
    finally:
        http.close()
        for worker in servers:
            worker.stop()
        server.stop()
        sim.close()
        for app, _, _ in workers:
            app.extensions["hoiivr"].close()
            app.extensions["hoiivr"].wiring.store.close()
        client.http_client.session.close()


def hang_up_recorded(live: Live, **faults: Any) -> tuple[dict[str, Any], list[Any]]:
    """A caller who leaves a message and hangs up while recorded, with ``faults`` on the
    webhooks that follow: (the call, what the app's handlers saw after the menu)."""
    sid = call(live)
    live.control("POST", f"/calls/{sid}/press", digits="2")
    live.control("POST", f"/calls/{sid}/speak", seconds=1)
    live.settle(sid)
    live.control("PUT", f"/calls/{sid}/faults", **faults)
    live.control("POST", f"/calls/{sid}/hangup")
    info = live.settle(sid)
    live.sim.settle(sid, limit=15)
    return info, live.seen[2:]


def sent(info: dict[str, Any]) -> list[str]:
    """The purposes of the requests the call made to the app, in order."""
    return [entry["purpose"] for entry in info["timeline"]
            if entry["type"] in ("webhook", "callback")]


def test_a_sales_team_that_answers_gets_the_call(live: Live) -> None:
    live.control("PUT", f"/phones/{SALES}", behaviour="answer", talk_seconds=2)
    sid = call(live)
    live.control("POST", f"/calls/{sid}/press", digits="1")
    info = live.settle(sid)
    assert info["transferred_to"] == SALES


def _answer(live: Live, headers: dict[str, str], body: dict[str, str]) -> int:
    reply = live.http.post(live.app_url + "/twilio/answer", data=urlencode(body),
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    **headers}, timeout=5)
    return reply.status_code


def test_a_wrong_missing_or_altered_signature_reaches_no_handler(live: Live) -> None:
    body = {"CallSid": "CA" + "a" * 32, "AccountSid": SID, "CallStatus": "ringing",
            "From": CALLER, "To": NUMBER, "Direction": "inbound"}
    url = live.app_url + "/twilio/answer"
    good = RequestValidator(TOKEN).compute_signature(url, body)
    wrong = RequestValidator("not-the-token").compute_signature(url, body)
    assert _answer(live, {}, body) == 403
    assert _answer(live, {"X-Twilio-Signature": wrong}, body) == 403
    assert _answer(live, {"X-Twilio-Signature": good}, {**body, "From": "+6500000000"}) == 403
    assert live.seen == []
    assert _answer(live, {"X-Twilio-Signature": good}, body) == 200     # a genuine one works
    assert live.seen == [("answer", CALLER)]


def test_a_simulator_signing_with_another_token_gets_403_and_an_application_error() -> None:
    for live in serve(app_token="the-apps-own-token"):
        sid = call(live)
        info = live.control("GET", f"/calls/{sid}")
        assert info["prompts"] == ["We're sorry, but an application error has occurred. "
                                   "Goodbye!"]
        errors = [e for e in info["timeline"] if e["type"] == "twiml_error"]
        assert errors[0]["code"] == 11217 and "HTTP 403" in errors[0]["reason"]
        assert live.seen == []

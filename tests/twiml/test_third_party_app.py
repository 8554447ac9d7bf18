"""A third-party app written for Twilio (``thirdparty_app.py``: Flask, VoiceResponse,
RequestValidator, a cookie session) completes its calls against the simulator, both on
real ports, driven only through the ``/sim/`` control API, with the ``twilio`` package's
Client placing an outbound call through the simulator's Calls resource."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from twilio.rest import Client

from hoiivr.simulator import RealClock, Simulator, SimulatorServer, Timing
from hoiivr.testing import LiveServer

from .thirdparty_app import SALES, create_app

SID, TOKEN = "AC" + "7" * 32, "third-party-token"
NUMBER, CALLER, PATIENT = "+6560000001", "+6591234567", "+6598765432"
#: Quick prompts, on a clock ten times faster than life.
QUICK = Timing(words_per_second=50.0, prompt_padding=0.01, audio_seconds=0.05,
               answer_after=0.5, unanswered_after=5.0, busy_after=0.2, failed_after=0.1)


@dataclass
class Line:
    app: Flask
    url: str                       # the simulator's
    app_url: str
    http: requests.Session

    def sim(self, method: str, path: str, **body: Any) -> Any:
        reply = self.http.request(method, f"{self.url}/sim{path}", json=body or None,
                                  timeout=20)
        assert reply.status_code < 300, reply.text
        return reply.json()

    def settle(self, sid: str) -> dict[str, Any]:
        self.sim("POST", "/settle", session=sid, limit=15)
        return self.sim("GET", f"/calls/{sid}")


@pytest.fixture
def line() -> Iterator[Line]:
    app = create_app(TOKEN)
    simulator = Simulator(clock=RealClock(speed=10), timing=QUICK)
    app_server = LiveServer(app).start()
    server = SimulatorServer(simulator)
    server.start()
    http = requests.Session()
    line = Line(app, server.url, app_server.url, http)
    line.sim("POST", "/accounts", kind="twilio", account_sid=SID, auth_token=TOKEN, cps=10)
    line.sim("POST", "/numbers", kind="twiml", number=NUMBER, url=app_server.url + "/voice",
             status_callback=app_server.url + "/status")
    yield line
    http.close()
    app_server.stop()
    server.stop()
    simulator.close()


def call(line: Line) -> str:
    sid = line.sim("POST", "/calls", **{"from": CALLER, "to": NUMBER})["session"]
    line.settle(sid)
    return str(sid)


def test_a_message_is_recorded_for_the_caller_the_session_remembers(line: Line) -> None:
    sid = call(line)
    line.sim("POST", f"/calls/{sid}/press", digits="2")
    line.settle(sid)
    line.sim("POST", f"/calls/{sid}/speak", seconds=2)
    line.settle(sid)
    line.sim("POST", f"/calls/{sid}/press", digits="#")
    info = line.settle(sid)
    assert info["state"] == "ended" and info["kind"] == "twiml"
    assert info["prompts"] == [
        "Press 1 for sales, 2 to leave a message, 3 for the news.",
        "Leave your message after the tone, then press hash.",
        f"Thank you {CALLER}. Goodbye."]
    [message] = line.app.messages                      # type: ignore[attr-defined]
    assert (message["caller"], message["menus"], message["seconds"]) == (CALLER, 1, "2")
    audio = line.http.get(message["url"], timeout=10)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    [status] = line.app.statuses                       # type: ignore[attr-defined]
    assert status["CallSid"] == sid and status["CallStatus"] == "completed"


def test_busy_sales_goes_back_to_the_menu_then_sales_answers(line: Line) -> None:
    line.sim("PUT", f"/phones/{SALES}", behaviour="busy")
    sid = call(line)
    line.sim("POST", f"/calls/{sid}/press", digits="1")
    info = line.settle(sid)
    assert info["prompts"][-2:] == ["Sales did not answer (busy).",
                                    "Press 1 for sales, 2 to leave a message, 3 for the news."]
    line.sim("PUT", f"/phones/{SALES}", behaviour="answer", talk_seconds=600)
    line.sim("POST", f"/calls/{sid}/press", digits="1")
    info = line.settle(sid)
    assert info["state"] == "talking" and info["transferred_to"] == SALES
    line.sim("POST", f"/calls/{sid}/press", digits="*")        # hangupOnStar: the talk ends
    info = line.settle(sid)
    assert info["state"] == "ended"
    assert info["prompts"][-1] == "Thank you for calling. Goodbye."
    dialled = [e["fields"] for e in info["timeline"]
               if e["type"] == "webhook" and e["url"].endswith("/dialled")]
    assert [f["DialCallStatus"] for f in dialled] == ["busy", "completed"]


def test_no_key_replays_the_menu_and_the_news_counts_the_menus(line: Line) -> None:
    sid = call(line)
    line.sim("POST", f"/calls/{sid}/press", digits="9")
    line.settle(sid)
    line.sim("POST", f"/calls/{sid}/press", digits="3")
    info = line.settle(sid)
    assert info["prompts"][-1] == "No news today. You have been through the menu 2 times."
    assert info["end_reason"] == "the app hung up (<Hangup>)"
    webhooks = [e for e in info["timeline"] if e["type"] == "webhook"]
    assert [e["url"].replace(line.app_url, "") for e in webhooks] == \
        ["/voice", "/menu", "/voice", "/menu", "/news"]
    assert all(e["reply_status"] == 200 for e in webhooks)


def test_a_forged_webhook_is_refused_by_the_app(line: Line) -> None:
    forged = line.http.post(line.app_url + "/voice", data={"From": CALLER, "CallSid": "CA1"},
                            headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, timeout=5)
    assert forged.status_code == 403


def test_the_twilio_client_places_a_call_the_app_confirms(line: Line) -> None:
    client = Client(SID, TOKEN, environment={"HOIIVR": "simulator"})
    client.api.base_url = line.url
    placed = client.calls.create(to=PATIENT, from_=NUMBER, url=line.app_url + "/reminder",
                                 status_callback=line.app_url + "/status",
                                 status_callback_event=["initiated", "answered", "completed"])
    info = line.settle(placed.sid)
    assert info["direction"] == "outbound" and info["state"] == "collecting"
    assert info["prompts"] == ["Your appointment is tomorrow. Press 1 to confirm."]
    line.sim("POST", f"/calls/{placed.sid}/press", digits="1")
    info = line.settle(placed.sid)
    assert info["state"] == "ended" and line.app.confirmed == [PATIENT]  # type: ignore[attr-defined]
    fetched = client.calls(placed.sid).fetch()
    assert fetched.status == "completed" and fetched.direction == "outbound-api"
    events = [s["CallStatus"] for s in line.app.statuses]   # type: ignore[attr-defined]
    assert events == ["initiated", "in-progress", "completed"]
    client.http_client.session.close()

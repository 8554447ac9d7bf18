"""A third-party app, written with only ``requests`` and Flask, completes a call.

No hoiivr framework and no ``hoiivr.client``: this is what a developer using the old
Hoiio SDKs (or none) writes against the Hoiio API, pointed at the simulator's URL. Only
the simulator itself is imported from hoiivr, to start it. Everything travels over real
HTTP on loopback: the REST API, the control API (the caller) and the notifications.

Menu (Gather) -> key 1 -> Transfer to a busy line with on_failure=continue -> voicemail
(Record, then the caller speaks) -> Hangup -> the recording is downloaded and checked.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import threading
import time
import wave
from typing import Any, Iterator

import pytest
import requests
from flask import Flask, abort, request
from werkzeug.serving import make_server

from hoiivr.simulator import RealClock, Simulator, SimulatorServer

APP_ID = "AID-sdk-user"
ACCESS_TOKEN = "sdk-user-secret-token"
HOIIO_NUMBER = "+6562223333"
CALLER = "+6591234567"
SALES = "+6562220000"
SPEED = 5.0


class VoicemailApp:
    """The app: a Flask app plus a requests Session talking to "Hoiio"."""

    def __init__(self, hoiio_url: str) -> None:
        self.hoiio = hoiio_url.rstrip("/") + "/open/"
        self.public_url = ""                       # known once the server is listening
        self.http = requests.Session()
        self.lock = threading.Lock()
        self.events: list[dict[str, str]] = []
        self.replies: list[dict[str, Any]] = []
        self.voicemail: str | None = None
        self.ended = threading.Event()
        self.flask = Flask("voicemail_app")
        for rule, view in [("/answer", self.answer), ("/menu", self.menu),
                           ("/sales", self.sales), ("/voicemail", self.saved),
                           ("/done", self.done)]:
            self.flask.add_url_rule(rule, rule, view, methods=["POST"])

    # -- Hoiio plumbing ---------------------------------------------------------------

    def hoiio_call(self, endpoint: str, **params: str) -> dict[str, Any]:
        params.update(app_id=APP_ID, access_token=ACCESS_TOKEN)
        data = self.http.post(self.hoiio + endpoint, data=params, timeout=10).json()
        with self.lock:
            self.replies.append({"endpoint": endpoint, **data})
        return data

    def notification(self) -> dict[str, str]:
        raw = request.get_data()
        expected = hmac.new(ACCESS_TOKEN.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hoiio-Signature", "")):
            abort(403)
        form = request.form.to_dict()
        with self.lock:
            self.events.append({"path": request.path, **form})
        return form

    def url(self, path: str) -> str:
        return self.public_url + path

    # -- the call flow ------------------------------------------------------------------

    def answer(self) -> str:
        n = self.notification()
        self.hoiio_call("ivr/middle/gather", session=n["session"], msg="Press 1 for sales.",
                        max_digits="1", timeout="10", attempts="2",
                        notify_url=self.url("/menu"))
        return "OK"

    def menu(self) -> str:
        n = self.notification()
        if n["digits"] == "1":
            self.hoiio_call("ivr/end/transfer", session=n["session"], dest=SALES,
                            msg="Connecting you.", on_failure="continue",
                            notify_url=self.url("/sales"))
        else:
            self.hoiio_call("ivr/end/hangup", session=n["session"], msg="Goodbye.",
                            notify_url=self.url("/done"))
        return "OK"

    def sales(self) -> str:
        n = self.notification()
        if n["call_state"] == "ongoing" and n["transfer_status"] != "answered":
            self.hoiio_call("ivr/middle/record", session=n["session"],
                            msg="Sales is busy. Leave a message after the tone.",
                            max_duration="30", notify_url=self.url("/voicemail"))
        return "OK"

    def saved(self) -> str:
        n = self.notification()
        self.voicemail = n["record_url"]
        self.hoiio_call("ivr/end/hangup", session=n["session"], msg="Thank you. Goodbye.",
                        notify_url=self.url("/done"))
        return "OK"

    def done(self) -> str:
        self.notification()
        self.ended.set()
        return "OK"


@pytest.fixture
def running() -> Iterator[tuple[VoicemailApp, str]]:
    # speed=5: a 2 s prompt plays in 0.4 s of real time; everything else is unchanged.
    sim = Simulator(clock=RealClock(speed=SPEED), wait=30.0)
    sim.add_account(APP_ID, ACCESS_TOKEN)
    hoiio = SimulatorServer(sim, host="127.0.0.1", port=0)
    hoiio.start()
    app = VoicemailApp(hoiio.url)
    server = make_server("127.0.0.1", 0, app.flask, threaded=True)
    app.public_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, hoiio.url.rstrip("/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        hoiio.stop()
        sim.close()
        app.http.close()


def wait_for_state(http: requests.Session, url: str, words: tuple[str, ...]) -> dict[str, Any]:
    """Poll the control API (it has no event stream) until the call's state matches."""
    deadline = time.monotonic() + 10
    while True:
        call = http.get(url, timeout=10).json()
        if any(w in str(call.get("state", "")).lower() for w in words):
            return call
        assert time.monotonic() < deadline, call
        time.sleep(0.01)


def test_voicemail_call_over_real_http(running: tuple[VoicemailApp, str]) -> None:
    app, hoiio = running
    with requests.Session() as caller:
        # Set up the number and the busy sales line through the control API.
        assert caller.post(f"{hoiio}/sim/numbers", data={
            "number": HOIIO_NUMBER, "forward_to": app.url("/answer")}, timeout=10).ok
        assert caller.put(f"{hoiio}/sim/phones/{SALES}",
                          data={"behaviour": "busy"}, timeout=10).ok
        # The same check through Hoiio's own API, as the app would do at start-up.
        active = app.hoiio_call("number/get_active")
        assert active["status"] == "success_ok" and HOIIO_NUMBER in str(active)

        session = caller.post(f"{hoiio}/sim/calls", data={"from": CALLER, "to": HOIIO_NUMBER},
                              timeout=10).json()["session"]
        call_url = f"{hoiio}/sim/calls/{session}"
        wait_for_state(caller, call_url, ("collect", "gather"))
        assert caller.post(f"{call_url}/press", data={"digits": "1"}, timeout=10).ok
        wait_for_state(caller, call_url, ("record",))
        assert caller.post(f"{call_url}/speak", data={"seconds": "1.5"}, timeout=10).ok
        threading.Event().wait(1.5 / SPEED)         # the caller talks for 1.5 s
        assert caller.post(f"{call_url}/press", data={"digits": "#"}, timeout=10).ok
        assert app.ended.wait(10), app.events
        call = caller.get(call_url, timeout=10).json()

        assert [r["status"] for r in app.replies if r["endpoint"].startswith("ivr/")] == [
            "success_ok"] * 4
        paths = [e["path"] for e in app.events]
        assert paths == ["/answer", "/menu", "/sales", "/voicemail", "/done"], app.events
        menu, sales, done = app.events[1], app.events[2], app.events[4]
        assert menu["digits"] == "1"
        assert sales["transfer_status"] == "busy" and sales["call_state"] == "ongoing"
        assert done["call_state"] == "ended" and done["duration"] == "1"
        assert done["debit"] == "0.020"
        assert call["state"] == "ended"
        assert call["prompts"] == ["Press 1 for sales.", "Connecting you.",
                                   "Sales is busy. Leave a message after the tone.",
                                   "Thank you. Goodbye."]

        audio = caller.get(app.voicemail, timeout=10)
        assert audio.status_code == 200
        data = audio.content
        assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
        with wave.open(io.BytesIO(data)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        assert len(data) > 1000 and seconds >= 1.0, (len(data), seconds)

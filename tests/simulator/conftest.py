"""Fixtures for the simulator's own tests.

:class:`App` is an in-process app double: a Flask app that records every notification and
runs the reaction registered for its path inside the handler, as a real app answers a
notification with its next block. :class:`World` puts a simulator, an app and a REST
session together: on the :class:`VirtualClock` everything goes through ``WSGIAdapter``
with no socket; on the :class:`RealClock` the simulator and the app listen on port 0.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

import pytest
import requests
from flask import Flask, request

from hoiivr.simulator import RealClock, Simulator, SimulatorServer, Timing, VirtualClock
from hoiivr.simulator import WSGIAdapter
from hoiivr.testing import LiveServer

APP_ID = "APP1"
TOKEN = "token-1"
NUMBER = "+6560000000"
CALLER = "+6591234567"
ANSWERS = "+6581000001"
BUSY = "+6581000002"
UNANSWERED = "+6581000003"
FAILED = "+6581000004"
SIM_URL = "http://hoiio.sim"
APP_URL = "http://app.test"

PLAY, GATHER, RECORD = "ivr/middle/play", "ivr/middle/gather", "ivr/middle/record"
MONITOR, HOLD, UNHOLD = "ivr/middle/monitor", "ivr/middle/hold", "ivr/middle/unhold"
TRANSFER, HANGUP, DIAL = "ivr/end/transfer", "ivr/end/hangup", "ivr/start/dial"

#: Round numbers for timing assertions: one word a second, no padding.
SLOW = Timing(words_per_second=1.0, prompt_padding=0.0, audio_seconds=3.0, answer_after=4.0,
              unanswered_after=30.0, busy_after=2.0, failed_after=1.0)
#: A quick model for real-clock tests.
FAST = Timing(words_per_second=200.0, prompt_padding=0.01, audio_seconds=0.02,
              answer_after=0.02, unanswered_after=0.05, busy_after=0.02, failed_after=0.02)


@dataclass
class Note:
    """One notification as the app received it."""

    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    handled: bool = False
    replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def __getitem__(self, key: str) -> str:
        return self.form[key]


Reaction = Callable[[Note], Any]


class App:
    """An app double: records notifications, reacts from inside the handler."""

    def __init__(self) -> None:
        self.notes: list[Note] = []
        self.reactions: dict[str, Reaction] = {}
        self.status = 200
        self.errors: list[BaseException] = []
        self.cond = threading.Condition()
        self.flask = Flask("simulator_test_app")
        self.flask.add_url_rule("/n/<name>", "n", self._receive, methods=["POST"])

    def _receive(self, name: str) -> tuple[str, int]:
        note = Note(request.path, request.query_string.decode("latin-1"), request.get_data(),
                    dict(request.headers))
        with self.cond:
            self.notes.append(note)
        try:
            if name in self.reactions:
                self.reactions[name](note)
        except BaseException as exc:  # kept, and raised by the test's teardown
            self.errors.append(exc)
        finally:
            with self.cond:
                note.handled = True
                self.cond.notify_all()
        return "ok", self.status

    def on(self, name: str, reaction: Reaction) -> None:
        self.reactions[name] = reaction

    def named(self, name: str, call_state: str | None = None) -> list[Note]:
        with self.cond:
            return [n for n in self.notes if n.name == name
                    and (call_state is None or n["call_state"] == call_state)]

    def wait_for(self, predicate: Callable[[Note], bool], timeout: float = 5.0) -> Note:
        """Real clock: the first handled note matching ``predicate``."""
        with self.cond:
            found = self.cond.wait_for(lambda: next(
                (n for n in self.notes if n.handled and predicate(n)), None), timeout)
        assert found, [n.form for n in self.notes]
        return found


class World:
    """A simulator, an app double and a REST session, on one clock."""

    def __init__(self, mode: str = "virtual", **options: Any) -> None:
        self.mode = mode
        self.app = App()
        self.rest = requests.Session()
        self._closers: list[Callable[[], None]] = []
        if mode == "virtual":
            self.notify_http = requests.Session()
            self.notify_http.mount(APP_URL + "/", WSGIAdapter(self.app.flask))
            options.setdefault("clock", VirtualClock())
            self.sim = Simulator(http=self.notify_http, base_url=SIM_URL, **options)
            self.rest.mount(SIM_URL + "/", WSGIAdapter(self.sim.wsgi_app))
            self.base, self.app_url = SIM_URL, APP_URL
            self._closers += [self.sim.close, self.notify_http.close, self.rest.close]
        else:
            options.setdefault("timing", FAST)
            self.sim = Simulator(clock=RealClock(), **options)
            self.server = SimulatorServer(self.sim, port=0)
            self.server.start()
            self.app_server = LiveServer(self.app.flask).start()
            self.base = self.server.url
            self.app_url = self.app_server.url
            self._closers += [self.app_server.stop, self.server.stop, self.sim.close,
                              self.rest.close]
        self.sim.add_account(APP_ID, TOKEN)
        self.sim.add_number(NUMBER, self.url("answer"))
        self.sim.set_phone(ANSWERS, "answer", talk_seconds=20)
        self.sim.set_phone(BUSY, "busy")
        self.sim.set_phone(UNANSWERED, "unanswered")
        self.sim.set_phone(FAILED, "failed")

    def url(self, name: str, query: str = "") -> str:
        return f"{self.app_url}/n/{name}" + (f"?{query}" if query else "")

    def api(self, endpoint: str, auth: bool = True, **params: Any) -> dict[str, Any]:
        """POST ``/open/<endpoint>``; the JSON reply."""
        if auth:
            params = {"app_id": APP_ID, "access_token": TOKEN, **params}
        data = {k: str(v) for k, v in params.items() if v is not None}
        reply = self.rest.post(f"{self.base}/open/{endpoint}", data=data, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def reply(self, note: Note, endpoint: str, **params: Any) -> dict[str, Any]:
        """From inside a handler: the next block for ``note``'s call."""
        params.setdefault("session", note["session"])
        result = self.api(endpoint, **params)
        note.replies.append(result)
        return result

    def answer_with(self, endpoint: str, **params: Any) -> None:
        """Answer every ringing call with ``endpoint``."""
        self.on_ongoing("answer", endpoint, state="ringing", **params)

    def on_ongoing(self, name: str, endpoint: str, state: str = "ongoing",
                   **params: Any) -> None:
        """On a ``state`` notification at ``name``, send ``endpoint`` (it must succeed)."""
        def react(note: Note) -> None:
            if note["call_state"] == state:
                assert self.reply(note, endpoint, **params)["status"] == "success_ok"
        self.app.on(name, react)

    def close(self) -> None:
        for close in self._closers:
            close()
        if self.app.errors:
            raise self.app.errors[0]


@pytest.fixture
def world() -> Iterator[World]:
    """A virtual-clock world with round-number timings (:data:`SLOW`)."""
    w = World(timing=SLOW)
    yield w
    w.close()


@pytest.fixture
def make_world() -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(mode: str = "virtual", **options: Any) -> World:
        made.append(World(mode, **options))
        return made[-1]
    yield make
    for w in made:
        w.close()

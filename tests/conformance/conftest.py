"""Fixtures for the simulator conformance suite.

The suite looks at the simulator the way a third-party Hoiio client would: REST requests
with plain ``requests``, notifications received by a tiny Flask app (:class:`Receiver`)
that records every request as it arrived (raw body, headers, path, query) and can answer
a notification by issuing the next REST call from inside its handler, as a real app does.

A :class:`Harness` puts one simulator and one receiver together in one of two modes:

``virtual``
    ``VirtualClock``; REST and control calls go through ``WSGIAdapter`` to
    ``sim.wsgi_app`` and notifications through ``WSGIAdapter`` to the receiver: no
    socket. Time moves only when the harness settles or advances the simulator.
``real``
    ``RealClock``; ``SimulatorServer`` and the receiver each listen on 127.0.0.1 port 0,
    and everything travels over real HTTP. ``wait`` is small so the suite stays fast.

Flow tests take the parametrised ``h`` fixture and run, with the same assertions, in
both modes. Reference: /work/shared/HOIIO-PROTOCOL.md (the "(chosen)" points included).
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

import pytest
import requests
from flask import Flask, request

from hoiivr.simulator import RealClock, SimulatorServer, Simulator, VirtualClock, WSGIAdapter
from hoiivr.testing import LiveServer

APP_ID = "AID1001"
TOKEN = "tok-conformance-0123456789"
OTHER_APP_ID = "AID2002"
OTHER_TOKEN = "tok-other-9876543210"
NUMBER = "+6561110000"          # the account's Hoiio Number
OTHER_NUMBER = "+6561110001"    # a Hoiio Number of OTHER_APP_ID
CALLER = "+6598765432"          # the caller of incoming calls
ANSWERS = "+6581000001"         # a phone that answers
BUSY = "+6581000002"
UNANSWERED = "+6581000003"
FAILED = "+6581000004"
TALK_SECONDS = 1                # how long an answering phone talks before hanging up

VIRTUAL_BASE = "http://hoiio.sim"
VIRTUAL_APP = "http://app.test"
REAL_SPEED = 20.0               # RealClock(speed=...): model seconds per real second
REAL_WAIT = 20.0                # the "60 s" wait, shortened for real-clock runs (1 s real)
VIRTUAL_WAIT = 60.0
REAL_TIMEOUT = 10.0             # the longest a real-clock test waits for one event

# Session states (get_call(...)["state"]) in which the call waits for the caller.
ENDED = "ended"
CALLER_TURN = frozenset({"collecting", "recording", "on_hold", "talking", ENDED})


# --------------------------------------------------------------------------- receiver

@dataclass
class Note:
    """One request the receiver got, exactly as it arrived."""

    method: str
    path: str
    query: str                      # the raw query string
    body: bytes                     # the raw body
    headers: dict[str, str]
    replies: list[dict[str, Any]] = field(default_factory=list)
    handled: bool = False           # the reaction (if any) has returned
    at: float = 0.0                 # arrival time on the harness's clock

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True,
                         strict_parsing=True)

    @property
    def form(self) -> dict[str, str]:
        return dict(self.pairs)

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def __getitem__(self, name: str) -> str:
        return self.form[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.form.get(name, default)

    @property
    def name(self) -> str:
        """The notify-url name the harness gave (``/n/<name>``)."""
        return self.path.rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        return f"<Note {self.path}?{self.query} {self.body[:300]!r}>"


Reaction = Callable[[Note], None]


class Receiver:
    """A minimal app: records every request; runs the reaction registered for its path."""

    def __init__(self) -> None:
        self.notes: list[Note] = []
        self.cond = threading.Condition()
        self.reactions: dict[str, Reaction] = {}
        self.errors: list[BaseException] = []
        self.closing = False            # errors once the harness shuts down are not kept
        self.clock: Callable[[], float] = time.monotonic
        self.app = Flask("conformance_receiver")
        self.app.add_url_rule("/<path:path>", "receive", self._receive,
                              methods=["GET", "POST"])

    def _receive(self, path: str) -> tuple[str, int]:
        note = Note(method=request.method, path="/" + path,
                    query=request.query_string.decode("latin-1"),
                    body=request.get_data(), headers=dict(request.headers),
                    at=self.clock())
        with self.cond:
            self.notes.append(note)
            self.cond.notify_all()
        reaction = self.reactions.get(note.path)
        try:
            if reaction is not None:
                reaction(note)
        except Exception as exc:  # surfaced by the harness, never lost in a thread
            if not self.closing:
                self.errors.append(exc)
        finally:
            with self.cond:
                note.handled = True
                self.cond.notify_all()
        return "ok", 200

    def snapshot(self) -> list[Note]:
        with self.cond:
            return list(self.notes)


# --------------------------------------------------------------------------- harness

class Harness:
    """One simulator, one receiver, one REST session, in ``virtual`` or ``real`` mode."""

    def __init__(self, mode: str, *, wait: float | None = None, accounts: bool = True,
                 speed: float = REAL_SPEED, **sim_options: Any) -> None:
        self.mode = mode
        self.speed = 1.0 if mode == "virtual" else speed
        self.receiver = Receiver()
        self.rest = requests.Session()
        self._local = threading.local()
        self._thread_sessions: list[requests.Session] = []
        self._closers: list[Callable[[], None]] = []
        if mode == "virtual":
            self.wait = VIRTUAL_WAIT if wait is None else wait
            self.notify_http = requests.Session()
            self.notify_http.mount(VIRTUAL_APP + "/", WSGIAdapter(self.receiver.app))
            self.sim = Simulator(clock=VirtualClock(), wait=self.wait, http=self.notify_http,
                                 base_url=VIRTUAL_BASE, **sim_options)
            self.rest.mount(VIRTUAL_BASE + "/", WSGIAdapter(self.sim.wsgi_app))
            self.base = VIRTUAL_BASE
            self.app_url = VIRTUAL_APP
            self._closers += [self.sim.close, self.notify_http.close, self.rest.close]
        else:
            self.wait = REAL_WAIT if wait is None else wait
            self.notify_http = None
            self.sim = Simulator(clock=RealClock(speed=speed), wait=self.wait, **sim_options)
            self.server = SimulatorServer(self.sim, host="127.0.0.1", port=0)
            self.server.start()
            self.receiver_server = LiveServer(self.receiver.app).start()
            self.base = self.server.url.rstrip("/")
            self.app_url = self.receiver_server.url
            self._closers += [self.server.stop, self.sim.close, self.receiver_server.stop,
                              self.rest.close]
        self.sessions: list[str] = []
        if accounts:
            self.sim.add_account(APP_ID, TOKEN)
            self.sim.add_account(OTHER_APP_ID, OTHER_TOKEN)
            self.sim.add_number(NUMBER, self.url("answer"), app_id=APP_ID)
            self.sim.add_number(OTHER_NUMBER, self.url("other-answer"), app_id=OTHER_APP_ID)
            self.sim.set_phone(ANSWERS, behaviour="answer", talk_seconds=TALK_SECONDS)
            self.sim.set_phone(BUSY, behaviour="busy")
            self.sim.set_phone(UNANSWERED, behaviour="unanswered")
            self.sim.set_phone(FAILED, behaviour="failed")

    def _close_thread_sessions(self) -> None:
        for session in self._thread_sessions:
            session.close()

    @property
    def http(self) -> requests.Session:
        """The REST session for this thread (a Session is not promised to be thread-safe)."""
        if self.virtual or threading.current_thread() is threading.main_thread():
            return self.rest
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            self._thread_sessions.append(session)
        return session

    @property
    def virtual(self) -> bool:
        return self.mode == "virtual"

    def close(self) -> None:
        self.receiver.closing = True
        for close in self._closers:
            close()
        self._close_thread_sessions()
        if self.receiver.errors:
            raise self.receiver.errors[0]

    # -- URLs and REST ------------------------------------------------------------------

    def url(self, name: str, query: str = "") -> str:
        """A notify URL on the receiver; its notes have path ``/n/<name>``."""
        return f"{self.app_url}/n/{name}" + (f"?{query}" if query else "")

    def api(self, endpoint: str, method: str = "POST", auth: bool = True,
            **params: Any) -> dict[str, Any]:
        """Call ``/open/<endpoint>``; the JSON reply (asserted: HTTP 200, a JSON object)."""
        if auth:
            params = {"app_id": APP_ID, "access_token": TOKEN, **params}
        params = {k: str(v) for k, v in params.items() if v is not None}
        url = f"{self.base}/open/{endpoint}"
        if method == "GET":
            res = self.http.get(url, params=params, timeout=REAL_TIMEOUT)
        else:
            res = self.http.request(method, url, data=params, timeout=REAL_TIMEOUT)
        assert res.status_code == 200, (endpoint, res.status_code, res.text[:500])
        data = res.json()
        assert isinstance(data, dict) and "status" in data, data
        return data

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REAL_TIMEOUT)
        return self.http.request(method, self.base + path, **kwargs)

    def control(self, method: str, path: str, **data: Any) -> dict[str, Any]:
        res = self.raw(method, path, data=data)
        assert res.status_code < 300, (path, res.status_code, res.text[:500])
        return res.json() if res.content else {}

    # -- the caller (control API over HTTP, as a third party would) --------------------

    def call(self, from_number: str = CALLER, to_number: str = NUMBER) -> str:
        session = self.control("POST", "/sim/calls", **{"from": from_number, "to": to_number})[
            "session"]
        self.sessions.append(session)
        return session

    def press(self, session: str, digits: str) -> None:
        self.control("POST", f"/sim/calls/{session}/press", digits=digits)

    def speak(self, session: str, seconds: float) -> None:
        self.control("POST", f"/sim/calls/{session}/speak", seconds=seconds)

    def caller_hangup(self, session: str) -> None:
        self.control("POST", f"/sim/calls/{session}/hangup")

    def get_call(self, session: str) -> dict[str, Any]:
        res = self.raw("GET", f"/sim/calls/{session}")
        assert res.status_code == 200, res.text
        return res.json()

    # -- reactions ----------------------------------------------------------------------

    def on(self, name: str, reaction: Reaction, *, ended_too: bool = False) -> str:
        """Run ``reaction(note)`` inside the handler of ``/n/<name>``; returns its URL.

        Like an app, the reaction is not run for an ``ended`` notification (the call is
        over) unless ``ended_too``.
        """
        def react(note: Note) -> None:
            if ended_too or note.get("call_state") != "ended":
                reaction(note)
        self.receiver.reactions["/n/" + name] = react
        return self.url(name)

    def reply(self, note: Note, endpoint: str, **params: Any) -> dict[str, Any]:
        """Issue a block for ``note``'s session from inside its handler; kept on the note."""
        params.setdefault("session", note["session"])
        data = self.api(endpoint, **params)
        note.replies.append(data)
        return data

    # -- time -----------------------------------------------------------------------------

    def notes(self, name: str | None = None, session: str | None = None) -> list[Note]:
        return [n for n in self.receiver.snapshot()
                if (name is None or n.name == name)
                and (session is None or n.get("session") == session)]

    def settle(self, session: str | None = None) -> None:
        """Virtual: run events until the call waits for the caller or has ended."""
        if self.virtual:
            for s in [session] if session else list(self.sessions):
                self.sim.settle(s)

    def wait_note(self, predicate: Callable[[Note], bool], *, within: float | None = None,
                  session: str | None = None) -> Note:
        """The first note matching ``predicate`` once it is handled, waiting for it.

        Virtual: settle, then move the clock on one second at a time for up to ``within``
        (default 4000) virtual seconds. Real: wait on the receiver's condition for up to
        ``within`` (default REAL_TIMEOUT) seconds.
        """
        def found() -> Note | None:
            for note in self.receiver.snapshot():
                if note.handled and predicate(note):
                    return note
            return None

        if self.virtual:
            self.settle(session)
            for _ in range(int(4000 if within is None else within) + 1):
                note = found()
                if note is not None:
                    return note
                self.sim.advance(1.0)
                self.settle(session)
            raise AssertionError(f"no matching notification; got {self.receiver.snapshot()}")
        deadline = time.monotonic() + (REAL_TIMEOUT if within is None else within)
        with self.receiver.cond:
            while True:
                note = found()
                if note is not None:
                    return note
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching notification; got {self.receiver.notes}")
                self.receiver.cond.wait(left)

    def pause(self, seconds: float) -> None:
        """Let ``seconds`` of model time pass (real mode: seconds / speed of real time)."""
        if self.virtual:
            self.sim.advance(seconds)
        else:
            threading.Event().wait(seconds / self.speed)

    def no_note(self, predicate: Callable[[Note], bool], seconds: float) -> None:
        """Assert nothing matching arrives while ``seconds`` of model time pass."""
        if self.virtual:
            self.sim.advance(seconds)
        else:
            deadline = time.monotonic() + seconds / self.speed
            with self.receiver.cond:
                while (left := deadline - time.monotonic()) > 0:
                    assert not any(predicate(n) for n in self.receiver.notes)
                    self.receiver.cond.wait(left)
        matching = [n for n in self.receiver.snapshot() if predicate(n)]
        assert not matching, matching

    def ended(self, session: str, **kwargs: Any) -> Note:
        return self.wait_note(lambda n: n.get("session") == session
                              and n.get("call_state") == "ended", session=session, **kwargs)

    def wait_state(self, session: str, predicate: Callable[[dict[str, Any]], bool],
                   within: float = REAL_TIMEOUT) -> dict[str, Any]:
        """The call's JSON once ``predicate`` holds (virtual: after settling)."""
        if self.virtual:
            self.settle(session)
            data = self.sim.get_call(session)
            assert predicate(data), data
            return data
        # The control API has no event stream, so a real-clock run polls the call's JSON.
        deadline = time.monotonic() + within
        while True:
            data = self.get_call(session)
            if predicate(data) or time.monotonic() > deadline:
                assert predicate(data), data
                return data
            time.sleep(0.01)

    def waiting_for_caller(self, session: str) -> dict[str, Any]:
        """Let the call run until it waits for the caller (gather/record/hold/talk).

        Real clock: until it rests, too, so the app has had the reply to the block that
        put it there (its state changes as the simulator takes the request, before the
        reply reaches the app).
        """
        if not self.virtual:
            self.control("POST", "/sim/settle", session=session, limit=REAL_TIMEOUT)
        return self.wait_state(session, is_waiting_for_caller)


def is_waiting_for_caller(call: dict[str, Any]) -> bool:
    return call.get("state") in CALLER_TURN


# --------------------------------------------------------------------------- checks

def signature_ok(note: Note, token: str = TOKEN) -> bool:
    expected = hmac.new(token.encode(), note.body, hashlib.sha256).hexdigest()
    given = note.headers.get("X-Hoiio-Signature", "")
    return given == expected and hmac.compare_digest(given, expected)


def assert_all_strings(value: Any, where: str = "reply") -> None:
    """Every scalar in a reply is a JSON string (protocol §1)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert_all_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_all_strings(item, f"{where}[{i}]")
    else:
        assert isinstance(value, str), f"{where} = {value!r} is not a JSON string"


def assert_billing(note: Note, rate: str = "0.020", currency: str = "SGD") -> int:
    """The billing fields of an ``ended`` notification; returns the duration in minutes."""
    form = note.form
    for name in ("date", "duration", "currency", "rate", "debit"):
        assert name in form, (name, note)
    assert form["duration"].isdigit(), form
    assert form["currency"] == currency
    assert Decimal(form["rate"]) == Decimal(rate)
    minutes = int(form["duration"])
    debit = (Decimal(rate) * minutes).quantize(Decimal("0.001"))
    assert form["debit"] == f"{debit:.3f}", form
    import re
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.0)?", form["date"]), form["date"]
    return minutes


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(params=["virtual", "real"])
def h(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The flow harness, once on the VirtualClock in-process and once over real HTTP."""
    harness = Harness(request.param)
    yield harness
    harness.close()


@pytest.fixture
def make_harness() -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(mode: str, **options: Any) -> Harness:
        made.append(Harness(mode, **options))
        return made[-1]
    yield make
    for harness in made:
        harness.close()


@pytest.fixture(scope="module")
def api() -> Iterator[Harness]:
    """Real HTTP, real clock, a long wait: for request validation, shared by a module."""
    harness = Harness("real", wait=60.0, max_concurrent_calls=100000)
    yield harness
    harness.close()


@pytest.fixture
def live(api: Harness) -> Callable[[], str]:
    """A factory of fresh ringing incoming calls on the ``api`` harness."""
    def make() -> str:
        return api.call()
    return make


@pytest.fixture
def ended_session(api: Harness) -> str:
    """A session that has ended (rejected by a forced Hangup)."""
    session = api.call()
    assert api.api("ivr/end/hangup", session=session, force="enabled")["status"] == "success_ok"
    api.wait_state(session, lambda c: c.get("state") == ENDED)
    return session

"""Faults on purpose: what the network and Hoiio may do to an app on a bad day.

A :class:`Faults` value says how often each thing goes wrong; a :class:`FaultPlan` holds the
faults in force (global ones, and each call's own over them) and rolls the dice with a
seeded :class:`random.Random`, so a run on the virtual clock is the same every time::

    sim.set_faults(duplicate=0.2, delay=1.5, seed=7)      # every call
    sim.set_faults(session, rest_error=1.0)               # this call, over the global ones
    sim.faults(session)   # {'duplicate': 0.2, 'reorder': 0.0, 'delay': 1.5, ...}
    sim.clear_faults()

Notifications (:class:`FaultyOutbox`, between the engine and its outbox):

- ``duplicate``: the notification is delivered twice (the same signed body);
- ``reorder``: it is held back until the call's next notification has been sent (at most
  :attr:`FaultyOutbox.reorder_window` seconds), then delivered after it;
- ``delay``: seconds of the call's clock added before each delivery (a timer, never a
  sleep: on the virtual clock it takes no real time);
- ``drop_notification``: it is never delivered (the call goes on: the wait ends it).

REST replies (:class:`FaultyRest`, a WSGI middleware around the simulator's app), of
Hoiio's ``/open/`` API and of Twilio's Calls resource alike:

- ``rest_error``: ``{"status": "error_internal_server_error"}`` (Twilio's: HTTP 500, code
  20500); the request is *not* carried out;
- ``rest_stall``: the request is carried out, then the reply waits ``stall_seconds`` (by
  default longer than a client's read timeout): the client times out not knowing;
- ``rest_drop``: the request is carried out, then the connection is closed with no reply
  (over HTTP the socket is shut; in-process the :class:`~hoiivr.simulator.WSGIAdapter`
  raises ``requests.ConnectionError``);
- ``rest_latency``: seconds added before every REST reply.

On a TwiML number the notification faults strike its webhooks and callbacks: a webhook
delayed 15 s or more, or dropped, is error 11205 (the call waits for its document; a
``reorder`` holds it back at most :attr:`FaultyOutbox.reorder_window` seconds, since no
other request of the call comes meanwhile); a duplicated one reaches the app twice and the
call uses the first answer.

``rest_latency`` and ``rest_stall`` are real seconds (not scaled by a clock's ``speed``) and
apply on the real clock only: on the virtual clock a REST call answers inside a notification
handler, where time cannot pass. Every fault that strikes a call is in its timeline as a
``fault`` entry (and logged), so a developer sees what happened to it.
"""
from __future__ import annotations

import io
import json
import logging
import math
import random
import re
import socket
import threading
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from . import rest
from .errors import SimulatorError
from .notifier import Notice, Outbox
from .transport import _run as run_wsgi

if TYPE_CHECKING:
    from .clock import Timer
    from .engine import Engine

log = logging.getLogger("hoiivr.simulator")

#: Faults that are probabilities (0 to 1); the others are seconds, but for ``seed``.
RATES = ("duplicate", "reorder", "drop_notification", "rest_error", "rest_stall", "rest_drop")
#: Twilio's Calls resource, and the call sid in its path if any.
CALLS_PATH = re.compile(r"/2010-04-01/Accounts/[^/]+/Calls(?:/(CA[0-9a-f]{32}))?\.json")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Faults:
    """How often each fault strikes (rates from 0 to 1) and how long the slow ones last."""

    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    drop_notification: float = 0.0
    rest_error: float = 0.0
    rest_stall: float = 0.0
    stall_seconds: float = 15.0
    rest_drop: float = 0.0
    rest_latency: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SimulatorError(f"{name}={value!r} is not a rate: give a probability "
                                     f"from 0 to 1, e.g. {name}=0.1")
        for name in ("delay", "stall_seconds", "rest_latency"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise SimulatorError(f"{name}={value!r}: give a number of seconds, 0 or more, "
                                     f"e.g. {name}=0.5")

    @classmethod
    def coerce(cls, values: Mapping[str, object]) -> dict[str, Any]:
        """``values`` (numbers, or their text as a form sends them) checked and converted."""
        known = [f.name for f in fields(cls)]
        checked: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise SimulatorError(f"there is no fault {name!r}; the faults are "
                                     + ", ".join(known))
            checked[name] = _seed(value) if name == "seed" else _number(name, value)
        cls(**checked)
        return checked

    @property
    def on_notifications(self) -> bool:
        return bool(self.duplicate or self.reorder or self.delay or self.drop_notification)

    @property
    def on_rest(self) -> bool:
        return bool(self.rest_error or self.rest_stall or self.rest_drop or self.rest_latency)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(name: str, value: object) -> float:
    try:
        result = None if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        result = None
    if result is None:
        raise SimulatorError(f"{name}={value!r} must be a number, e.g. {name}=0.1")
    if not math.isfinite(result):
        raise SimulatorError(f"{name}={value!r} must be a finite number, e.g. {name}=0.1")
    return result


def _seed(value: object) -> int | None:
    if value is None or value == "":
        return None
    seed: int | None = None
    if isinstance(value, (int, str, float)) and not isinstance(value, bool):
        try:
            seed = int(value) if not isinstance(value, float) or value.is_integer() else None
        except ValueError:
            seed = None
    if seed is None:
        raise SimulatorError(f"seed={value!r} must be a whole number, e.g. seed=42")
    return seed


class FaultPlan:
    """The faults in force, and the dice.

    Global faults apply to every call; a call's own faults are merged over them, field by
    field. Setting faults again changes only the fields given. A ``seed`` re-seeds the dice
    of its level (a call with a seed of its own has dice of its own).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global: dict[str, Any] = {}
        self._calls: dict[str, dict[str, Any]] = {}
        self._dice = random.Random()
        self._call_dice: dict[str, random.Random] = {}
        #: Set on close: a stalled or slowed reply stops waiting.
        self.stopping = threading.Event()

    @property
    def active(self) -> bool:
        """False when no fault was ever set (or all were cleared): the fast path."""
        return bool(self._global or self._calls)

    def set(self, session: str | None, values: Mapping[str, object]) -> Faults:
        checked = Faults.coerce(values)
        with self._lock:
            own = self._global if session is None else self._calls.get(session, {})
            merged = {**own, **checked}
            Faults(**{**self._global, **merged})     # the merged result must hold too
            if session is None:
                self._global = merged
            else:
                self._calls[session] = merged
            if "seed" in checked:
                dice = random.Random(checked["seed"])
                if session is None:
                    self._dice = dice
                else:
                    self._call_dice[session] = dice
        log.info("faults%s: %s", f" of call {session}" if session else "",
                 " ".join(f"{k}={v}" for k, v in checked.items()) or "unchanged")
        return self.of(session)

    def clear(self, session: str | None = None) -> None:
        """Forget one call's own faults, or (``None``) every fault, global and per call."""
        with self._lock:
            if session is None:
                self._global.clear()
                self._calls.clear()
                self._call_dice.clear()
            else:
                self._calls.pop(session, None)
                self._call_dice.pop(session, None)

    def of(self, session: str | None) -> Faults:
        """The faults in force for ``session`` (the global ones for ``None``)."""
        with self._lock:
            own = self._calls.get(session, {}) if session else {}
            return Faults(**{**self._global, **own})

    def roll(self, session: str | None, rate: float) -> bool:
        """True with probability ``rate``; no die is rolled for a rate of 0."""
        if rate <= 0:
            return False
        with self._lock:
            dice = self._call_dice.get(session or "", self._dice)
            return dice.random() < rate


class FaultyOutbox(Outbox):
    """Stands between the engine and its outbox: drops, duplicates, holds back or delays
    notifications before the outbox delivers them. Called with the engine's lock held."""

    #: The longest a reordered notification is held back waiting for the call's next one.
    reorder_window: float = 5.0

    def __init__(self, inner: Outbox, plan: FaultPlan, engine: Engine) -> None:
        super().__init__(inner.deliver, inner.started, inner.finished)
        self.inner = inner
        self.plan = plan
        self.engine = engine
        self._held: dict[str, list[tuple[Notice, Timer]]] = {}
        self._lock = threading.Lock()

    def submit(self, notice: Notice) -> None:
        session = notice.session
        faults = self.plan.of(session) if self.plan.active else None
        held = self._take_held(session)
        if faults is None or not faults.on_notifications:
            self.inner.submit(notice)
        else:
            self._with_faults(notice, faults)
        for earlier in held:                 # held back: they arrive after this one
            self._later(earlier, faults.delay if faults else 0.0)

    def _with_faults(self, notice: Notice, faults: Faults) -> None:
        s = self.engine.sessions[notice.session]
        if self.plan.roll(notice.session, faults.drop_notification):
            s.undelivered -= 1
            self._note(notice, "drop_notification", "dropped notification (injected): it is "
                       "never delivered")
            return
        copies = [notice]
        if self.plan.roll(notice.session, faults.duplicate):
            copies.append(notice)
            s.undelivered += 1
            self._note(notice, "duplicate", "duplicated notification (injected): delivered "
                       "twice")
        delayed = False
        for copy in copies:
            if self.plan.roll(notice.session, faults.reorder):
                self._note(notice, "reorder", "notification held back (injected) until the "
                           f"call's next one, at most {self.reorder_window:g} s")
                self._hold(copy)
            else:
                delayed = True
                self._later(copy, faults.delay)
        if delayed and faults.delay:
            self._note(notice, "delay", f"notification delayed {faults.delay:g} s (injected)")

    def _later(self, notice: Notice, delay: float) -> None:
        if delay > 0:
            self.engine.clock.call_later(delay, lambda: self.inner.submit(notice))
        else:
            self.inner.submit(notice)

    def _hold(self, notice: Notice) -> None:
        def release() -> None:
            with self._lock:
                mine = self._held.get(notice.session, [])
                if entry not in mine:
                    return                   # released already, after a later notification
                mine.remove(entry)
            self.inner.submit(notice)
        with self._lock:             # release() waits for the entry to be in place
            entry = (notice, self.engine.clock.call_later(self.reorder_window, release))
            self._held.setdefault(notice.session, []).append(entry)

    def _take_held(self, session: str) -> list[Notice]:
        with self._lock:
            entries = self._held.pop(session, [])
        for _, timer in entries:
            timer.cancel()
        return [notice for notice, _ in entries]

    def _note(self, notice: Notice, fault: str, detail: str) -> None:
        note(self.engine, notice.session, fault, detail, ivr_block=notice.field("ivr_block"),
             call_state=notice.field("call_state"), url=notice.url)

    def close(self) -> None:
        """Forget held notifications; the simulator closes the inner outbox itself."""
        with self._lock:
            entries = [e for held in self._held.values() for e in held]
            self._held.clear()
        for _, timer in entries:
            timer.cancel()


class FaultyRest:
    """WSGI middleware around the simulator's app: faults for ``/open/`` requests.

    Reads the request's parameters (to know its call) only while some fault is set; puts
    the body back for the app. A dropped connection is an exception: werkzeug's server
    takes a ``ConnectionError`` for a connection the other end closed and stays quiet,
    and :class:`~hoiivr.simulator.WSGIAdapter` turns it into ``requests.ConnectionError``.
    """

    def __init__(self, app: WSGIApp, plan: FaultPlan, engine: Engine) -> None:
        self.app = app
        self.plan = plan
        self.engine = engine

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        endpoint = path[len("/open/"):]
        calls = CALLS_PATH.fullmatch(path)
        if not self.plan.active or not (calls or path.startswith("/open/")
                                        and endpoint in rest.ENDPOINTS):
            return self.app(environ, start_response)
        if calls:
            endpoint, session = "Calls", calls.group(1)
        else:
            session = _params(environ).get("session") or None
        faults = self.plan.of(session)
        if not faults.on_rest:
            return self.app(environ, start_response)
        real = not self.engine.clock.virtual
        if real and faults.rest_latency:
            note(self.engine, session, "rest_latency", f"REST reply delayed "
                 f"{faults.rest_latency:g} s (injected)", endpoint=endpoint, level=logging.INFO)
            self.plan.stopping.wait(faults.rest_latency)
        if self.plan.roll(session, faults.rest_error):
            note(self.engine, session, "rest_error", "REST reply failed (injected): "
                 "error_internal_server_error, the request was not carried out",
                 endpoint=endpoint)
            reply = {"code": 20500, "message": "Internal Server Error (injected fault)",
                     "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500} \
                if calls else {"status": "error_internal_server_error"}
            body = json.dumps(reply).encode()
            start_response("500 Internal Server Error" if calls else "200 OK",
                           [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
            return [body]
        stall = real and self.plan.roll(session, faults.rest_stall)
        drop = self.plan.roll(session, faults.rest_drop)
        if not (stall or drop):
            return self.app(environ, start_response)
        status, headers, content = run_wsgi(self.app, environ)
        session = session or _session_in(content)
        if drop:
            note(self.engine, session, "rest_drop", "REST connection dropped (injected): the "
                 "request was carried out, no reply was sent", endpoint=endpoint)
            _shut(environ)
            raise ConnectionResetError(f"the simulator dropped the connection of {path} "
                                       "without a reply (injected fault rest_drop)")
        note(self.engine, session, "rest_stall", f"REST reply stalled {faults.stall_seconds:g} s "
             "(injected): the request was carried out", endpoint=endpoint)
        self.plan.stopping.wait(faults.stall_seconds)
        start_response(status, headers)
        return [content]


def note(engine: Engine, session: str | None, fault: str, detail: str,
         level: int = logging.WARNING, **data: Any) -> None:
    """Put a ``fault`` entry in the call's timeline (if the call is known), and log it."""
    log.log(level, "fault %s: %s%s", session or "-", detail,
            f" ({data['endpoint']})" if "endpoint" in data else "")
    if session is None:
        return
    with engine.lock:
        s = engine.sessions.get(session)
        if s is not None:
            s.log(engine.clock.now(), "fault", fault=fault, detail=detail, **data)


def _params(environ: dict[str, Any]) -> dict[str, str]:
    """The request's parameters, the body put back for the app; ``{}`` if unreadable."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = b""
    if 0 < length <= rest.MAX_BODY:
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    try:
        return rest.read_params(environ, body)
    except ValueError:              # malformed or too large: the app will say so
        return {}


def _session_in(content: bytes) -> str | None:
    """The ``session`` of a reply (a Dial's), so its faults land in its timeline."""
    try:
        reply = json.loads(content)
    except ValueError:
        return None
    if not isinstance(reply, dict):
        return None
    return reply.get("session") or reply.get("sid")


def _shut(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass                        # the client is gone already

"""The embedded Hoiio as a Python object, without HTTP: :class:`SimulatorCore`.

:class:`~hoiivr.simulator.web.Simulator` is this plus its WSGI app (the REST API, the control
API and the web page); use that one. This module knows nothing of Flask or of the web, so
that the web modules may depend on it and never the other way round.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import requests

from .accounts import Account, Directory, HoiioNumber, Phone, TwilioAccount, TwimlNumber
from .calls import CALL_FIELDS
from .clock import Clock, VirtualClock
from .engine import Engine
from .errors import SettleTimeout, SimulatorError
from .faults import FaultPlan, FaultyOutbox
from .media import Recording, Recordings, Voice, upload
from .notifier import (Deliverer, Delivery, InlineOutbox, Notice, Outbox, PoolDeliverer,
                       PooledOutbox, WSGIDeliverer)
from . import speech
from .speech import Heard
from .timing import Timing
from .transport import WSGISession
from .twiml.front import TwimlFront

log = logging.getLogger("hoiivr.simulator")
_S = TypeVar("_S", bound="SimulatorCore")
#: The longest settle(): a year of (virtual or real) seconds.
MAX_SETTLE = 365 * 86400.0


class SimulatorCore:
    """A local Hoiio without HTTP: calls, notifications, phones and recordings, driven from
    Python. :class:`~hoiivr.simulator.Simulator` adds its WSGI app (``sim.wsgi_app``); its
    docstring shows a call.

    ``clock``: a :class:`VirtualClock` (the default; time moves only through :meth:`advance`
    and :meth:`settle`) or a :class:`RealClock`. ``wait``: how long a call waits for the
    app's next block. ``http``: what notifications are delivered with: a
    :class:`WSGISession` calls an in-process app directly (the cheapest way); a
    ``requests.Session`` sends them through requests (mount a :class:`WSGIAdapter` on it to
    reach an in-process app); by default the simulator's own pooled keep-alive connections
    over real HTTP. ``base_url``: the simulator's own root, used in ``record_url``
    (:class:`SimulatorServer` sets it to its address).

    On a :class:`VirtualClock`, :meth:`call`, :meth:`press`, :meth:`speak` and
    :meth:`hangup` deliver what they cause at the current instant (the ringing
    notification, a Gather's answer) before they return; time does not move. ``timing``: the
    durations of the model (prompt pace, ring times). ``rate_limit``: REST requests per
    second allowed per account before ``error_rate_limit_exceeded`` (default: no limit).
    ``keep_ended_calls``: how many ended calls (and their recordings) stay to be inspected
    and queried; older ones are forgotten, so a long-running simulator stays bounded.

    :meth:`set_faults` injects what goes wrong on a bad day (duplicated, reordered, delayed
    or lost notifications; failed, stalled or dropped REST replies): see
    :mod:`hoiivr.simulator.faults`.
    """

    #: The most events one :meth:`settle` fires before it decides the call never rests.
    MAX_EVENTS = 100_000

    def __init__(self, clock: Clock | None = None, wait: float = 60.0,
                 max_concurrent_calls: int = 8,
                 http: requests.Session | WSGISession | None = None,
                 base_url: str = "http://hoiio.sim", *, timing: Timing | None = None,
                 voice: Voice | None = None, notify_workers: int = 4,
                 rate_limit: float | None = None, keep_ended_calls: int = 1000) -> None:
        if not wait > 0:
            raise SimulatorError(f"wait={wait!r}: the wait for the next block must be positive")
        if max_concurrent_calls < 1:
            raise SimulatorError("max_concurrent_calls must be at least 1")
        if keep_ended_calls < 0:
            raise SimulatorError("keep_ended_calls must be 0 or more")
        self.clock = clock if clock is not None else VirtualClock()
        self.base_url = base_url.rstrip("/")
        self.rate_limit = rate_limit
        self.directory = Directory()
        self.recordings = Recordings(voice)
        self.deliverer = _deliverer(http, notify_workers)
        self.engine = Engine(self.clock, self.directory, self.recordings, wait=wait,
                             max_concurrent_calls=max_concurrent_calls,
                             timing=timing or Timing(), base_url=lambda: self.base_url,
                             keep_ended_calls=keep_ended_calls)
        self.outbox = self._outbox(self.deliverer, notify_workers)
        self.twiml = TwimlFront(self.engine)
        #: Recognizes a caller's audio (``recognize(wav, hints, language) -> Heard``).
        self.recognize: Callable[[bytes, Sequence[str], str], Heard] = speech.recognize
        self.engine.twiml = self.twiml
        self.fault_plan = FaultPlan()
        self.engine.on_forget = self.fault_plan.clear
        self.engine.outbox = FaultyOutbox(self.outbox, self.fault_plan, self.engine)

    def _outbox(self, deliverer: Callable[[Notice], Delivery], workers: int) -> Outbox:
        engine = self.engine
        if isinstance(self.clock, VirtualClock):
            outbox = InlineOutbox(deliverer, engine.delivery_started, engine.delivery_finished)
            self.clock.add_listener(outbox.flush)
            return outbox
        return PooledOutbox(deliverer, engine.delivery_started, engine.delivery_finished,
                            workers)

    # -- accounts, numbers, phones -------------------------------------------------------

    def add_account(self, app_id: str, access_token: str, balance: object = "100.000",
                    currency: str = "SGD", rate: object = "0.020",
                    registered_number: str | None = None) -> Account:
        """Add an app that may use the REST API with these credentials."""
        with self.engine.lock:
            return self.directory.add_account(app_id, access_token, balance, currency, rate,
                                              registered_number)

    def add_number(self, number: str, forward_to: str | None,
                   app_id: str | None = None) -> HoiioNumber:
        """Give an account (default: the first) a Hoiio Number notifying ``forward_to``."""
        with self.engine.lock:
            return self.directory.add_number(number, forward_to, app_id)

    def add_twilio_account(self, account_sid: str | None = None, auth_token: str | None = None,
                           *, balance: object = "100.000", currency: str = "USD",
                           rate: object = "0.014", shared_key: tuple[str, str] | None = None,
                           cps: object = 1.0, rest_concurrency: object = 100) -> TwilioAccount:
        """Add a Twilio account (an ``AccountSid`` and its auth token, made up when not
        given): it owns TwiML numbers and places calls through the Calls resource, at most
        ``cps`` calls a second, with at most ``rest_concurrency`` requests at once.
        ``shared_key`` = ``(id, secret)`` signs its webhooks with that SharedKey instead of
        the auth token."""
        with self.engine.lock:
            return self.directory.add_twilio_account(
                account_sid, auth_token, balance=balance, currency=currency, rate=rate,
                shared_key=shared_key, cps=cps, rest_concurrency=rest_concurrency)

    def add_twiml_number(self, number: str, url: str | None, account_sid: str | None = None,
                         *, method: str = "POST", fallback_url: str | None = None,
                         fallback_method: str = "POST", status_callback: str | None = None,
                         status_callback_method: str = "POST") -> TwimlNumber:
        """Give a Twilio account (default: the first) the number ``number``, whose calls
        request ``url`` (its Voice URL, with ``method``) and run the TwiML it returns."""
        with self.engine.lock:
            return self.directory.add_twiml_number(
                number, url, account_sid, voice_method=method, fallback_url=fallback_url,
                fallback_method=fallback_method, status_callback=status_callback,
                status_callback_method=status_callback_method)

    def set_phone(self, number: str, behaviour: str = "answer",
                  talk_seconds: float = 30) -> Phone:
        """How ``number`` behaves when dialled or transferred to: ``answer`` (then talks for
        ``talk_seconds``), ``busy``, ``unanswered`` (rings ~30 s), ``failed``, or ``manual``:
        it rings until :meth:`answer` or :meth:`reject` (or rings out as unanswered), the
        call saying ``"ringing_phone": number`` meanwhile."""
        with self.engine.lock:
            return self.directory.set_phone(number, behaviour, talk_seconds)

    # -- the caller ------------------------------------------------------------------------

    def call(self, from_number: str, to_number: str) -> str:
        """Call the number ``to_number``: a Hoiio Number's ``forward_to`` hears it ringing,
        a TwiML number's Voice URL is requested. Returns the call's id (its ``session``;
        for a TwiML number its ``CallSid``)."""
        session = self.engine.incoming_call(from_number, to_number)
        self._pump()
        return session

    def press(self, session: str, digits: str) -> None:
        """The caller presses keys (``0-9``, ``*``, ``#``), all at once."""
        self.engine.press(session, digits)
        self._pump()

    def speak(self, session: str, seconds: float = 5.0, audio: bytes | None = None,
              filename: str | None = None, content_type: str | None = None) -> None:
        """The caller talks for ``seconds`` from now (or for the length of a WAV ``audio``,
        which a recording in progress keeps exactly as given). Audio spoken to a Gather
        that listens for speech is recognized offline (:mod:`.speech`, with the Gather's
        hints as a grammar): :class:`BadAudio` for audio it cannot use,
        :class:`SpeechUnavailable` without PocketSphinx."""
        given = upload(audio, filename, content_type) if audio is not None else None
        gather = self.engine.listening(session) if given is not None else None
        if given is None or gather is None:
            self.engine.speak(session, seconds, given)
        else:
            # Recognized before the engine's lock is taken: decoding takes up to a second.
            heard = self.recognize(given.data, gather.hints, gather.language)
            self.engine.heard(session, given, heard, gather)
        self._pump()

    def say(self, session: str, text: str) -> None:
        """The caller says ``text`` (heard as is, confidence 1.0, by a Gather that listens
        for speech; elsewhere it is speech as long as saying it takes)."""
        self.engine.say(session, text)
        self._pump()

    def hangup(self, session: str) -> None:
        """The caller hangs up (for a Dial still ringing: the dialled phone rejects it)."""
        self.engine.caller_hangup(session)
        self._pump()

    def answer(self, session: str) -> None:
        """The manual phone ringing on ``session`` (dialled or transferred to) answers: a
        Dial's prompt plays, and keys, speech and :meth:`hangup` then come from it."""
        self.engine.pick_up(session, answered=True)
        self._pump()

    def reject(self, session: str) -> None:
        """The manual phone ringing on ``session`` rejects the call (the app hears busy)."""
        self.engine.pick_up(session, answered=False)
        self._pump()

    def _pump(self) -> None:
        # On the virtual clock, what a caller's action causes at this instant (a
        # notification, a block it starts) happens before the action returns; time does not
        # move. Inside a notification handler the delivery loop already running does it.
        if isinstance(self.clock, VirtualClock) and not self.clock.running_here:
            self.clock.advance(0)

    # -- time -------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the virtual clock on, firing every event due on the way, in order."""
        if not isinstance(self.clock, VirtualClock):
            raise SimulatorError("advance() needs a VirtualClock; on a RealClock time passes "
                                 "by itself (use settle() to wait)")
        self.clock.advance(seconds)

    def settle(self, session: str | None = None, limit: float = 3600.0) -> None:
        """Run the call (every call if ``session`` is None) until it rests, then return.

        A call rests when it has ended, or when only the caller can move it on: a Gather
        collecting keys (its prompt finished), a Record recording (and the caller not in
        the middle of a :meth:`speak`), on hold, talking to a transferred party or in a
        conference room, or ringing a manual phone; and none of its notifications is queued or being delivered.

        On a :class:`VirtualClock` the events of all calls are fired in time order (virtual
        time jumps to each) until that holds, so a timer that only the caller's silence
        lets run out (a gather's timeout, a recording's max_duration, a talk's end) is never
        fired: move on past it with :meth:`advance`. The wait for the app's next block is
        fired, because nothing but the app can stop it and the app had its chance: an
        in-process app answers inside the delivery. ``limit`` bounds the virtual time;
        :class:`SettleTimeout` if the call does not rest within it. On a :class:`RealClock`
        this blocks until the same condition holds, for at most ``limit`` real seconds.
        """
        if not 0 <= limit <= MAX_SETTLE:
            raise SimulatorError(f"settle(limit={limit!r}): give a number of seconds from 0 "
                                 f"to {MAX_SETTLE:g} (a year)")
        if not isinstance(self.clock, VirtualClock):
            if not self.engine.wait_at_rest(session, limit):
                raise SettleTimeout(self._restless(session, f"{limit:g} s"))
            return
        self._pump()
        deadline = self.clock.now() + limit
        for _ in range(self.MAX_EVENTS):
            if self.engine.at_rest(session):
                return
            due = self.clock.next_at()
            if due is None:
                raise SettleTimeout(self._restless(session, "the end of all pending events"))
            if due > deadline:
                raise SettleTimeout(self._restless(session, f"{limit:g} s of virtual time"))
            self.clock.step(due)
        raise SettleTimeout(self._restless(session, f"{self.MAX_EVENTS} events; is the app "
                                           "looping through blocks that take no time?"))

    def _restless(self, session: str | None, within: str) -> str:
        which = f"call {session} (state {self.engine.get_call(session)['state']})" if session \
            else "the calls"
        return (f"{which} did not come to rest within {within}; advance() past what it waits "
                "for, or give settle() a larger limit")

    # -- faults -------------------------------------------------------------------------------

    def set_faults(self, session: str | None = None, **faults: object) -> dict[str, Any]:
        """Inject faults into every call (``session`` None) or into one call, over the global
        ones; only the fields given change. Returns the faults now in force there::

            sim.set_faults(duplicate=0.1, delay=2, seed=42)
            sim.set_faults(session, rest_error=1.0)

        The faults and their units are those of :class:`~hoiivr.simulator.faults.Faults`.
        """
        if session is not None:
            self._known(session)
        return self.fault_plan.set(session, faults).to_json()

    def clear_faults(self, session: str | None = None) -> None:
        """No more faults: for one call (its own ones), or everywhere (``None``)."""
        if session is not None:
            self._known(session)
        self.fault_plan.clear(session)

    def faults(self, session: str | None = None) -> dict[str, Any]:
        """The faults in force for ``session`` (the global ones for ``None``)."""
        if session is not None:
            self._known(session)
        return self.fault_plan.of(session).to_json()

    def _known(self, session: str) -> None:
        with self.engine.lock:
            self.engine._call(session)

    # -- inspection -------------------------------------------------------------------------

    def get_call(self, session: str, *fields: str) -> dict[str, Any]:
        """Everything about a call, as ``GET /sim/calls/<session>`` shows it; or only the
        ``fields`` named, read at their own cost (``sim.get_call(session, "state")``)."""
        unknown = [name for name in fields if name not in CALL_FIELDS]
        if unknown:
            raise SimulatorError(f"a call has no field {unknown[0]!r}; it has "
                                 f"{', '.join(CALL_FIELDS)}")
        return self.engine.get_call(session, fields)

    def calls(self) -> list[dict[str, Any]]:
        """A summary of every call, oldest first."""
        return self.engine.calls()

    def stats(self) -> dict[str, Any]:
        """Each account's peak of calls in progress at once, and the calls refused over a
        limit (``GET /sim/stats``): ``{"accounts": {app_id: {"peak_concurrent_calls": 8,
        "refused_over_limit": 0, "calls": 200}}}``."""
        with self.engine.lock:
            return self.engine.stats.to_json()

    def reset_stats(self) -> None:
        """Start the figures of :meth:`stats` again (``DELETE /sim/stats``)."""
        with self.engine.lock:
            self.engine.stats.reset()

    def recording(self, name: str) -> Recording | None:
        """The recording served as ``/sim/recordings/<name>``."""
        return self.recordings.find(name)

    def close(self) -> None:
        """Stop the clock's thread and the notification workers; close owned connections."""
        self.fault_plan.stopping.set()
        self.clock.close()
        self.engine.outbox.close()  # type: ignore[union-attr]
        self.outbox.close()
        self.deliverer.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _deliverer(http: requests.Session | WSGISession | None,
               workers: int) -> Deliverer | WSGIDeliverer | PoolDeliverer:
    if isinstance(http, WSGISession):
        return WSGIDeliverer(http)
    return Deliverer(http) if http is not None else PoolDeliverer(workers)

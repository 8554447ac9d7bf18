"""The call engine: sessions, their rules, their end and their bill.

Everything that changes a call happens under one lock: a REST request, the caller's
action, or a timer of the clock. None of them delivers a notification; they queue it on the
outbox, which delivers it with the lock released. So an app's REST call made inside its
notification handler is served at once, and only starts the block it asks for.

A call to a TwiML number is the same session on the same clock, but its course is its
:class:`~hoiivr.simulator.calls.Front`'s: the engine hands it the caller's actions, its
webhooks' answers and its end (``twiml``, set by the simulator, starts such calls).
"""
from __future__ import annotations

import collections
import logging
import math
import secrets
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Protocol

from .. import blocks
from ..blocks import Block, Dial
from ..protocol import format_time, is_e164
from . import calls
from .accounts import MONEY, Account, Directory, TwimlNumber, money
from .calls import Billing, Session, Step, Target, Transfer
from .clock import Clock
from .errors import CallEnded, SimulatorError, UnknownCall
from .flow import BlockFlow
from .media import Recording, Recordings, Upload
from .speech import Heard
from .notifier import NOTIFICATION, Delivery, Notice, Outbox, make_notice
from .stats import CallStats
from .timing import Timing

log = logging.getLogger("hoiivr.simulator")

KEYS = frozenset("0123456789*#")
#: The most characters the caller says in one go (``say``).
MAX_SAID = 1000
#: International services no phone call reaches (UIFN freephone, satellite, premium).
UNSUPPORTED_PREFIXES = ("+800", "+808", "+870", "+878", "+881", "+882", "+883", "+888",
                        "+979", "+991")
_DEFAULT: Any = object()
Reply = dict[str, str]
#: Asked last, once a request passed every other check: True refuses it (rate limit).
Throttle = Callable[[], bool]


def _unthrottled() -> bool:
    return False


def status(code: str) -> Reply:
    return {"status": code}


class Ringing(Protocol):
    """Starts the calls of TwiML numbers (the simulator's TwiML front)."""

    def ring(self, s: Session, number: TwimlNumber) -> None:
        """``s`` is a new call to ``number``: request its Voice URL."""


class Engine(BlockFlow):
    """The sessions of every account, and the rules of the protocol's call model."""

    def __init__(self, clock: Clock, directory: Directory, recordings: Recordings, *,
                 wait: float, max_concurrent_calls: int, timing: Timing,
                 base_url: Callable[[], str], keep_ended_calls: int = 1000) -> None:
        self.clock = clock
        self.directory = directory
        self.recordings = recordings
        self.wait = wait
        self.max_concurrent_calls = max_concurrent_calls
        self.timing = timing
        self.base_url = base_url
        self.outbox: Outbox | None = None
        self.lock = threading.RLock()
        # Each thread in wait_at_rest, and the call it waits for (None: every call).
        self._rest_waiters: dict[threading.Condition, str | None] = {}
        self.sessions: dict[str, Session] = {}
        self.rooms: dict[str, set[str]] = {}
        self._by_txn: dict[str, Session] = {}
        self._active: dict[str, set[str]] = {}
        # Ended calls, oldest first: beyond keep_ended_calls they are forgotten, so that a
        # simulator serving for days does not grow without bound.
        self.keep_ended_calls = keep_ended_calls
        self._ended: collections.deque[Session] = collections.deque()
        #: Called with the id of each call forgotten, for what others keep per call.
        self.on_forget: Callable[[str], None] = lambda session_id: None
        #: Rings calls to TwiML numbers; without it they are refused.
        self.twiml: Ringing | None = None
        #: Each account's peak of calls in progress, and its calls refused over a limit.
        self.stats = CallStats()

    @contextmanager
    def _mutating(self) -> Iterator[None]:
        """Hold the lock, and wake whoever waits for a call that has now come to rest."""
        with self.lock:
            try:
                yield
            finally:
                self._wake_rested()

    def _wake_rested(self) -> None:
        # Only the waiters whose call is at rest: with every waiter woken on every change,
        # a busy simulator spent its time switching between threads that went back to sleep.
        for waiter, session_id in self._rest_waiters.items():
            try:
                rested = self.at_rest(session_id)
            except SimulatorError:
                rested = True            # an unknown call: let the waiter raise for itself
            if rested:
                waiter.notify()

    # -- the REST API (the account is already authenticated) ---------------------------

    def dial(self, account: Account, block: Dial, notify_url: str | None,
             request: dict[str, Any], throttle: Throttle = _unthrottled) -> Reply:
        """Start an outbound call; the reply has its ``txn_ref`` and ``session``."""
        with self._mutating():
            if block.caller_id and not self.directory.caller_id_allowed(account,
                                                                         block.caller_id):
                return status("error_caller_id_invalid")
            if block.dest.startswith(UNSUPPORTED_PREFIXES):
                return status("error_dest_not_supported")
            if len(self._active.get(account.app_id, ())) >= self.max_concurrent_calls:
                self.stats.refused(account.app_id)
                return status("error_concurrent_call_limit_reached")
            if not account.can_afford_a_minute():
                return status("error_insufficient_credit")
            if throttle():
                self.stats.refused(account.app_id)
                return status("error_rate_limit_exceeded")
            s = self._new_session(account, "outbound", dest=block.dest)
            self.count_started(s)
            entry = s.log(self.clock.now(), "request", **request)
            reply = {"status": "success_ok", "txn_ref": s.txn_ref, "session": s.id}
            entry["reply"] = dict(reply)
            self._run_dial(s, Step(block, notify_url))
            return reply

    def submit(self, account: Account, session_id: str, block: Block,
               notify_url: str | None, request: dict[str, Any],
               throttle: Throttle = _unthrottled) -> Reply:
        """Run a Middle or End block on ``session_id``, if the session's state allows it."""
        with self._mutating():
            s = self.sessions.get(session_id)
            if s is None:
                return status("error_invalid_session")
            if s.account is not account:
                return status("error_session_access_denied")
            entry = s.log(self.clock.now(), "request", **request)
            reply = self._accept(s, block, notify_url, throttle)
            entry["reply"] = dict(reply)
            return reply

    def _accept(self, s: Session, block: Block, notify_url: str | None,
                throttle: Throttle) -> Reply:
        caller_id = getattr(block, "caller_id", None)
        if caller_id and not self.directory.caller_id_allowed(s.account, caller_id, s.caller):
            return status("error_caller_id_invalid")
        transfer = block if isinstance(block, blocks.Transfer) else None
        if transfer is not None and transfer.dest.startswith(UNSUPPORTED_PREFIXES):
            return status("error_dest_not_supported")
        refusal = self._refusal(s, block.kind)
        if refusal:
            return status(refusal)
        if (s.inbound and s.answered_at is None and block.kind != "hangup"
                and not s.account.can_afford_a_minute()):
            return status("error_insufficient_credit")
        if throttle():
            return status("error_rate_limit_exceeded")
        reply = status("success_ok")
        if transfer is not None:
            room = None
            if transfer.dest.startswith("room:"):
                room = transfer.dest[len("room:"):] or f"R-{_serial()}"
                reply["room"] = room
            s.transfers.append(Transfer(transfer.dest, transfer.on_failure or "hangup", room))
        self._start(s, Step(block, notify_url), interrupting=s.state not in calls.READY)
        return reply

    @staticmethod
    def _refusal(s: Session, kind: str) -> str | None:
        if s.ended or s.closed:
            return "error_session_ended"
        if kind == "unhold":
            return None if s.state == calls.ON_HOLD else "error_session_not_on_hold"
        if kind == "hangup":
            return None                      # allowed at any moment
        if s.state not in calls.READY:
            return "error_session_not_ready"
        if kind == "monitor" and s.monitor is not None:
            return "error_monitor_in_progress"
        return None

    def query(self, account: Account, txn_ref: str) -> Reply | None:
        """``voice/query_status`` of one of ``account``'s calls; ``None`` if unknown."""
        with self.lock:
            s = self._by_txn.get(txn_ref)
            if s is None or s.account is not account:
                return None
            if not s.ended:
                call_status = "ongoing"
            elif s.answered_at is not None:
                call_status = "answered"
            else:
                call_status = s.dial_status or "unanswered"
            transfer = s.transfer
            reply = {"status": "success_ok", "txn_ref": s.txn_ref,
                     "tag": s.step.tag if s.step and s.step.kind == "dial" else "",
                     "dest1": s.dest or s.caller or "", "dest2": transfer.dest if transfer else "",
                     "call_status": call_status, "call_status_dest1": call_status,
                     "call_status_dest2": (transfer.status or "") if transfer else "",
                     "date": s.date, "currency": s.account.currency,
                     "rate": money(s.account.rate)}
            if s.billing is not None:       # absent while the call is ongoing
                reply.update(duration=str(s.billing.duration), debit=s.billing.debit)
            return reply

    # -- the caller ---------------------------------------------------------------------

    def incoming_call(self, caller: str, to: str) -> str:
        """A call from ``caller`` to the Hoiio Number ``to``; returns its session id."""
        if not is_e164(caller):
            hint = " (a '+' in form data must be sent as %2B)" if caller[:1] == " " else ""
            raise SimulatorError(f"from={caller!r} must be an E.164 number, e.g. "
                                 f"'+6591234567'{hint}")
        with self._mutating():
            twiml = self.directory.twiml_numbers.get(to)
            if twiml is not None:
                return self._ring_twiml(caller, twiml)
            entry = self.directory.numbers.get(to)
            if entry is None:
                hint = " (a '+' in form data must be sent as %2B)" if to[:1] == " " else ""
                raise SimulatorError(f"to={to!r} is not a Hoiio Number of any account (nor a "
                                     f"TwiML number){hint}; add it with add_number() or POST "
                                     "/sim/numbers first")
            account = self.directory.accounts[entry.app_id]
            self.check_concurrency(account)
            s = self._new_session(account, "inbound", caller=caller, number=to)
            self.count_started(s)
            s.log(self.clock.now(), "ringing", forward_to=entry.forward_to)
            log.info("call %s: %s calls %s", s.id, caller, to)
            if entry.forward_to:
                self._notify(s, Target(entry.forward_to, "answer"), "ringing")
            else:
                log.warning("call %s to %s rings, but the number has no forward_to", s.id, to)
            self._start_wait(s)
            return s.id

    def check_concurrency(self, account: Account) -> None:
        if len(self._active.get(account.app_id, ())) >= self.max_concurrent_calls:
            self.stats.refused(account.app_id)
            raise SimulatorError(f"account {account.app_id!r} already has "
                                 f"{self.max_concurrent_calls} calls in progress (the "
                                 "concurrent call limit); end one first", 409)

    def count_started(self, s: Session) -> None:
        """``s`` is now in progress: count it, and its account's calls in progress."""
        active = self._active.get(s.account.app_id, set())
        in_progress = sum(1 for sid in active if self.sessions[sid].state != calls.QUEUED)
        self.stats.started(s.account.app_id, in_progress)

    def _ring_twiml(self, caller: str, number: TwimlNumber) -> str:
        if self.twiml is None:
            raise SimulatorError("this engine runs no TwiML numbers")
        account = self.directory.twilio_accounts[number.account_sid]
        self.check_concurrency(account)
        s = self._new_session(account, "inbound", caller=caller, number=number.number,
                              session_id="CA" + secrets.token_hex(16))
        self.count_started(s)
        s.log(self.clock.now(), "ringing", voice_url=number.voice_url)
        log.info("call %s: %s calls %s (TwiML)", s.id, caller, number.number)
        self.twiml.ring(s, number)
        return s.id

    def press(self, session_id: str, digits: str) -> None:
        if not digits or not set(digits) <= KEYS:
            raise SimulatorError(f"digits={digits!r}: press one or more of the keys 0-9, * "
                                 "and #, e.g. '1' or '1234#'")
        with self._mutating():
            self._keys(self._live(session_id), digits)
            log.info("call %s: the caller presses %s", session_id, digits)

    def speak(self, session_id: str, seconds: float, upload: Upload | None = None) -> None:
        if not (isinstance(seconds, (int, float)) and 0 < seconds <= 3600):
            raise SimulatorError(f"seconds={seconds!r}: the caller speaks for more than 0 "
                                 "and at most 3600 seconds")
        with self._mutating():
            self._speech(self._live(session_id), float(seconds), upload)
            log.info("call %s: the caller speaks for %g s", session_id, seconds)

    def say(self, session_id: str, text: str) -> None:
        """The caller says ``text``: heard as is (confidence 1.0) by a Gather that listens
        for speech, and for as long as text-to-speech would take to say it."""
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_SAID:
            raise SimulatorError(f"text={str(text)[:40]!r}: the caller says 1 to {MAX_SAID} "
                                 "characters of words, e.g. \"sales\"")
        text = " ".join(text.split())
        seconds = max(self.timing.speech_seconds(text), 0.3)
        with self._mutating():
            self._speech(self._live(session_id), seconds, None,
                         Heard(text, 1.0, "text", seconds))
            log.info("call %s: the caller says %r", session_id, text)

    def listening(self, session_id: str) -> Any:
        """The Gather of ``session_id`` listening for speech now (its ``hints`` and
        ``language`` say what to recognize), or None."""
        with self.lock:
            s = self._live(session_id)
            return s.front.listening(s) if s.front is not None else None

    def heard(self, session_id: str, upload: Upload, heard: Heard, heard_for: Any) -> None:
        """The caller spoke ``upload``, recognized as ``heard`` for the Gather ``heard_for``
        (what :meth:`listening` gave before the recognizer ran, outside the lock)."""
        with self._mutating():
            self._speech(self._live(session_id), heard.seconds, upload, heard, heard_for)
            log.info("call %s: the caller speaks; heard %r (%s, confidence %.2f)", session_id,
                     heard.text, heard.how, heard.confidence)

    def caller_hangup(self, session_id: str) -> None:
        """The caller (or the dialled party) hangs up; nothing happens if already ended."""
        with self._mutating():
            s = self._call(session_id)
            if s.ended:
                return
            s.log(self.clock.now(), "caller_hangup")
            log.info("call %s: the caller hangs up", session_id)
            if s.front is not None:
                s.front.hangup(s)
            elif s.state == calls.DIALING and s.step is not None:
                # Hanging up a phone that is still ringing rejects the call: busy.
                s.dial_status = "busy"
                self._end(s, "the dialled phone rejected the call", s.step.target,
                          {"dial_status": "busy"})
            else:
                self._end(s, "the caller hung up")

    def pick_up(self, session_id: str, answered: bool) -> None:
        """The person at the manual phone ringing on the call answers (or rejects) it."""
        with self._mutating():
            s = self._live(session_id)
            if s.ringing_phone is None:
                raise SimulatorError(
                    f"call {session_id} is not ringing a phone answered by hand (it is "
                    f"{s.state}); set the dialled number's behaviour to 'manual' (PUT "
                    "/sim/phones/<number>) before the app dials or transfers to it", 409)
            log.info("call %s: %s %s", session_id, s.ringing_phone,
                     "answers" if answered else "rejects the call")
            self._pick_up(s, answered)

    def _call(self, session_id: str) -> Session:
        s = self.sessions.get(session_id)
        if s is None:
            raise UnknownCall(f"there is no call {session_id!r} (the simulator keeps the last "
                              f"{self.keep_ended_calls} ended calls); GET /sim/calls lists "
                              "the calls")
        return s

    def _live(self, session_id: str) -> Session:
        s = self._call(session_id)
        if s.ended:
            raise CallEnded(f"call {session_id} has ended ({s.end_reason}); start a new one "
                            "with POST /sim/calls")
        return s

    # -- inspection ----------------------------------------------------------------------

    def get_call(self, session_id: str, fields: Iterable[str] = ()) -> dict[str, Any]:
        """The call's record (only ``fields`` of it if given), the caller's own copy."""
        with self.lock:
            record: dict[str, Any] = _copied(self._call(session_id).to_json(fields))
            return record

    def calls(self) -> list[dict[str, Any]]:
        with self.lock:
            return [s.summary() for s in self.sessions.values()]

    def at_rest(self, session_id: str | None = None) -> bool:
        """True when the call (every call if ``None``) has ended or waits for the caller,
        and none of its notifications is still queued or being delivered."""
        with self.lock:
            now = self.clock.now()
            chosen = [self._call(session_id)] if session_id else list(self.sessions.values())
            return all(s.undelivered == 0 and (s.ended or s.caller_turn(now)) for s in chosen)

    def wait_at_rest(self, session_id: str | None, timeout: float) -> bool:
        """Block (real clock) until :meth:`at_rest`; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        waiter = threading.Condition(self.lock)
        with self.lock:
            self._rest_waiters[waiter] = session_id
            try:
                while not self.at_rest(session_id):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    # Woken by a change that rests the call; the timeout re-checks calls
                    # that come to rest by time alone (a prompt finishing).
                    waiter.wait(min(left, 0.5))
                return True
            finally:
                del self._rest_waiters[waiter]

    # -- notifications ---------------------------------------------------------------------

    def _notify(self, s: Session, target: Target | None, call_state: str,
                fields: dict[str, str] | None = None) -> None:
        if target is None or self.outbox is None:
            return
        own = [("call_state", call_state), ("ivr_block", target.block), ("session", s.id),
               ("txn_ref", s.txn_ref), ("tag", target.tag)]
        own += [("from", s.caller or ""), ("to", s.number or "")] if s.inbound else \
            [("dest", s.dest or "")]
        own += list((fields or {}).items())
        s.undelivered += 1
        self.outbox.submit(make_notice(s.id, target.url, own, s.account.access_token))

    def delivery_started(self, notice: Notice) -> dict[str, Any]:
        with self.lock:
            s = self.sessions[notice.session]
            if notice.kind != NOTIFICATION and s.front is not None:
                return s.front.started(s, notice)
            return s.log(self.clock.now(), "notification", url=notice.url,
                         call_state=notice.field("call_state"),
                         ivr_block=notice.field("ivr_block"), fields=notice.form,
                         delivered=False, reply_status=None, latency_ms=None, error=None)

    def delivery_finished(self, notice: Notice, entry: dict[str, Any], result: Delivery) -> None:
        with self._mutating():
            s = self.sessions[notice.session]
            s.undelivered -= 1
            if notice.kind != NOTIFICATION and s.front is not None:
                s.front.delivered(s, notice, entry, result)
                return
            entry.update(result.to_json(), delivered=result.ok)

    # -- timers, the wait, the end ---------------------------------------------------------

    def _after(self, s: Session, name: str, delay: float,
               action: Callable[[Session], None]) -> None:
        """Run ``action(s)`` in ``delay`` seconds, replacing the session's timer ``name``."""
        self._cancel(s, name)

        def fire() -> None:
            with self._mutating():
                if s.timers.get(name) is timer and not s.ended:
                    del s.timers[name]
                    action(s)
        timer = self.clock.call_later(max(0.0, delay), fire)
        s.timers[name] = timer

    def _cancel(self, s: Session, name: str) -> None:
        timer = s.timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _start_wait(self, s: Session) -> None:
        self._after(s, "wait", self.wait,
                    lambda s: self._end(s, f"no block came within the {self.wait:g} s wait"))

    def _block_done(self, s: Session, **fields: str) -> None:
        """The block finished: notify its notify_url and wait, or hang up without one."""
        self._cancel(s, "block")
        step = s.step
        assert step is not None
        if step.notify_url is None:
            self._end(s, f"the {step.kind} block had no notify_url", None)
            return
        s.state = calls.WAITING
        self._notify(s, step.target, "ongoing", fields)
        self._start_wait(s)

    def _save(self, s: Session, kind: str, start: float, end: float) -> Recording:
        named = s.front.recording_id(s) if s.front is not None else None
        rec = self.recordings.add(s.id, kind, end - start, s.speech_between(start, end),
                                  self.base_url(), s.upload if kind == "record" else None,
                                  named=named)
        s.recordings.append(rec)
        return rec

    def _end(self, s: Session, reason: str, target: Target | None = _DEFAULT,
             fields: dict[str, str] | None = None) -> None:
        """End the call: stop its timers, keep its recordings, bill it, notify."""
        if s.ended:
            return
        now = self.clock.now()
        for timer in s.timers.values():
            timer.cancel()
        s.timers.clear()
        self._cut_prompt(s)
        if s.front is not None:
            kept = s.front.ending(s)
            monitored = self._save(s, "monitor", s.monitor_started, now) \
                if s.monitor_started is not None else None
            self._close(s, now, reason)
            s.front.ended(s, kept, monitored)
            return
        cut = self._save(s, "record", s.record_started or 0.0, now) \
            if s.state == calls.RECORDING else None
        monitored = self._save(s, "monitor", s.monitor_started, now) \
            if s.monitor_started is not None else None
        fields = dict(fields or {})
        if target is _DEFAULT:
            target, extra = self._end_target(s)
            fields = {**extra, **fields}
        billing = self._close(s, now, reason)
        monitor_url = getattr(s.monitor.block, "monitor_notify_url", None) if s.monitor else None
        if cut is not None:
            fields["record_url"] = cut.url
        elif monitored is not None and not monitor_url:
            fields["record_url"] = monitored.url
        self._notify(s, target, "ended", {**fields, **billing.fields()})
        if monitored is not None and s.monitor is not None and (monitor_url or cut):
            # The monitor recording gets its own notification when it has its own URL, or
            # when a cut-off Record's recording took the record_url field.
            where = Target(monitor_url, "monitor", s.monitor.tag) if monitor_url else target
            self._notify(s, where, "ended", {"record_url": monitored.url, **billing.fields()})

    def _close(self, s: Session, now: float, reason: str) -> Billing:
        """The call is over: out of its room, ended, billed, no longer active."""
        self._leave_room(s)
        s.state, s.ended_at, s.end_reason = calls.ENDED, now, reason
        self._ended.append(s)
        s.billing = billing = self._bill(s, now)
        self._active.get(s.account.app_id, set()).discard(s.id)
        s.log(now, "ended", reason=reason, **billing.fields())
        log.info("call %s ended: %s (%s min, %s %s)", s.id, reason, billing.duration,
                 billing.debit, billing.currency)
        return billing

    def _forget_old_calls(self) -> None:
        """Drop the oldest ended calls beyond ``keep_ended_calls``, with their recordings.

        A call whose notifications are still queued or being delivered (its ``ended``, or
        one a fault holds back) is kept until they are done: their delivery needs it.
        """
        while len(self._ended) > self.keep_ended_calls and self._ended[0].undelivered == 0:
            s = self._ended.popleft()
            del self.sessions[s.id]
            del self._by_txn[s.txn_ref]
            self.recordings.forget(s.recordings)
            self.on_forget(s.id)

    def _bill(self, s: Session, now: float) -> Billing:
        seconds = 0.0 if s.answered_at is None else now - s.answered_at
        minutes = math.ceil(round(seconds, 3) / 60)
        debit = (s.account.rate * minutes).quantize(MONEY)
        s.account.balance -= debit
        return Billing(s.date, minutes, s.account.currency, money(s.account.rate), money(debit))

    def _leave_room(self, s: Session) -> None:
        room = s.transfer.room if s.transfer else None
        if room is not None and room in self.rooms:
            self.rooms[room].discard(s.id)
            if not self.rooms[room]:
                del self.rooms[room]

    def _new_session(self, account: Account, direction: str, *, caller: str | None = None,
                     number: str | None = None, dest: str | None = None,
                     session_id: str | None = None) -> Session:
        """A new call; ``session_id``, if given, is both its id and its txn_ref (a Twilio
        CallSid)."""
        self._forget_old_calls()
        serial = _serial()
        ids = (session_id, session_id) if session_id else (f"S{serial}", f"AA-C-{serial}")
        now = self.clock.now()
        s = Session(ids[0], ids[1], account, direction, now,
                    format_time(self.clock.wall(now)), caller=caller, number=number, dest=dest)
        self.sessions[s.id] = s
        self._by_txn[s.txn_ref] = s
        self._active.setdefault(account.app_id, set()).add(s.id)
        return s



def _copied(value: Any) -> Any:
    """A copy of JSON-shaped data sharing nothing mutable with it: what ``copy.deepcopy``
    gives for dicts, lists and scalars, at a fraction of its cost (no memo, no dispatch)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copied(item) for item in value)
    return value


def _serial() -> str:
    """The digits of a new call's or room's id: unguessable (80 bits), so that a page that
    cannot read the calls cannot name one either, and whoever saw one id cannot reach the
    next; digits, the shape of Hoiio's ids (S<digits>, AA-C-<digits>, R-<digits>)."""
    return f"{secrets.randbelow(10 ** 24):024d}"

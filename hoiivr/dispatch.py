"""From a notification to the next block: the core of hoiivr, in plain Python.

For each notification the :class:`Dispatcher` locks the call in the store, decides what the
notification means (stale or duplicate, a queued block to send, a handler to call, the end
of the call), writes the call's new record and gives back the lock in one step, and only
then has the carrier deliver the next block. No Flask and no network here beyond the
carrier and store it is given, so every decision can be tested directly, and it is the
same for every carrier.

The lock covers the decision, not the delivery. Once the new ``seq`` is stored every
other notification of the block before is stale, so the delivery needs no lock to happen
once; and the call is never locked by a worker waiting on the network, or dead while it
waited, when the block's own notification arrives. Only a failed delivery takes the lock
again, to apologise if nothing has moved the call on meanwhile.

A call's record::

    {"session": "S1", "direction": "inbound", "from": ..., "to": ..., "dest": ...,
     "base": "https://app.example/hoiio/notify/",   # where its notify URLs point, for good
     "seq": 3,                   # number of the last block sent; its notify URL carries it
     "block": "gather", "step": "menu",   # that block's kind and step name
     "queue": [...],             # blocks still to send, in order, with no handler between
     "state": {...}}             # call.state
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Callable

from .ask import Ask, answered
from .blocks import Block, Dial, Hangup, Play, Unhold
from .call import Call
from .carriers.base import Answer, Carrier, Placed
from .errors import (CallFlowError, CallGone, ClientError, HoiivrError, LeaseLost,
                     StoreError)
from .flow import check_flow, handler_name, no_handler, pack, unpack
from .notification import Notification
from .registry import Handlers
from .state import check_state
from .stores import Lease, Store
from .tokens import NotifyTokens, Ticket

log = logging.getLogger("hoiivr")

HANDLED, STALE, FORBIDDEN = "handled", "stale", "forbidden"

#: The handler event a block's "ongoing" notification goes to.
RESULT_EVENTS = {"dial": "dial_answered", "gather": "gather", "record": "record", "play": "play",
                 "monitor": "monitor", "unhold": "unhold", "transfer": "transfer_failed"}


@dataclass(frozen=True)
class Failure:
    """A handler (or a delivery) that raised while a call's notification was handled:
    given to the runtime's failure listeners (:meth:`Runtime.on_failure
    <hoiivr.runtime.Runtime.on_failure>`), and logged as the ``hoiivr_failure`` attribute
    of the log record that reports it."""

    session: str | None
    step: str | None
    source: Callable[..., Any] | None
    error_handler: Callable[..., Any] | None
    error: BaseException | None = None
    #: What came of it: ``apology`` (the caller hears it and is hung up), ``handled`` (the
    #: error handler answered), ``ended`` (the call was over: on_hangup, on_dial_failed).
    outcome: str = "apology"


@dataclass(frozen=True)
class Outcome:
    """What one notification came to: its ``verdict`` (handled, stale or forbidden) and,
    where delivering the next blocks *is* the webhook's answer (TwiML), that answer."""

    verdict: str
    answer: Answer | None = None


@dataclass
class Turn:
    """One notification's work on one call, under that call's lock."""

    key: str
    record: dict[str, Any]
    notify_base: str
    #: The call's lease, given back by the write-ahead unless ``keep_lease``: dial and
    #: unhold keep it across the delivery.
    lease: Lease | None = None
    keep_lease: bool = False
    recovering: bool = False
    #: An incoming call nothing has answered yet: a Hangup now would reject it.
    ringing: bool = False
    #: The webhook's answer, if the carrier's delivery made one.
    answer: Answer | None = None


class Dispatcher:
    """Runs the ``handlers`` of an app against a store and a carrier."""

    goodbye = "Goodbye."
    apology = "Sorry, something went wrong. Please call again later. Goodbye."
    # A turn holds the lock across at most two REST calls (a block, then an apology), each
    # bounded by the client's timeouts (~20 s with connect retries): the lease outlives
    # that, and a notification waits almost as long rather than being dropped, since
    # Hoiio never sends it again.
    lock_lease = 60.0
    lock_wait = 45.0

    def __init__(self, handlers: Handlers, store: Store, carrier: Carrier, tokens: NotifyTokens,
                 record_ttl: float | None = None, tombstone_ttl: float = 86400.0,
                 fallback: Sequence[Block] | None = None, slow_handler: float = 2.0) -> None:
        self.handlers = handlers
        self.store = store
        self.carrier = carrier
        self.tokens = tokens
        self.record_ttl = record_ttl if record_ttl is not None else tokens.max_age
        #: How long an ended call's marker stays, so a replayed "ringing" cannot restart it.
        self.tombstone_ttl = tombstone_ttl
        #: What the caller hears when the store fails: one block with no notify URL, after
        #: which the provider ends the call (it plays, or connects a person).
        self.fallback: tuple[Block, ...] = tuple(fallback or (Play(self.apology),))
        #: Seconds after which a handler is logged as slow: the caller waits in silence.
        self.slow_handler = slow_handler
        #: Called with each :class:`Failure` (see ``Runtime.on_failure``).
        self.failure_listeners: list[Callable[[Failure], None]] = []

    # -- entry points ----------------------------------------------------------------------

    def ringing(self, notification: Notification, notify_base: str) -> Outcome:
        """A notification at the answer URL: a new incoming call, or one that ended unanswered."""
        key = notification.session
        lease = self._lock(key)
        with lease as record:
            if notification.ended:
                if record is None:
                    # The end overtook the ringing (or the ringing was lost): remember it,
                    # so that a late ringing cannot start a call that is over.
                    self._bury(lease, notification)
                    return Outcome(STALE)
                if record.get("ended"):
                    return Outcome(STALE)    # a duplicate of the end: on_hangup ran already
                return self._end(key, lease, record, notification, None)
            if record is not None:
                return Outcome(STALE)
            # The call's notify URLs start with what they start with now, for good: a later
            # request, even a genuinely signed replay, with a forged Host cannot move them.
            record = {"session": key, "txn_ref": notification.txn_ref, "direction": "inbound",
                      "from": notification.from_number, "to": notification.to_number,
                      "base": notify_base, "seq": 0, "state": {}}
            call = Call(key, record, notification)
            turn = Turn(key, record, notify_base, lease, ringing=True)
            self._send(turn, self._asked(record, self._run("answer", None, call)), call)
        return Outcome(HANDLED, turn.answer)

    def notify(self, notification: Notification, ticket: Ticket, notify_base: str) -> Outcome:
        """A notification at a block's notify URL, whose token held ``ticket``."""
        lease = self._lock(ticket.call)
        with lease as record:
            verdict = self._judge(record, notification, ticket)
            if verdict is not None:
                return Outcome(verdict)
            assert record is not None
            if notification.ended:
                return self._end(ticket.call, lease, record, notification, ticket)
            record["session"] = notification.session
            call = Call(ticket.call, record, notification, ticket.step)
            queued = record.get("queue")
            blocks = [unpack(item) for item in queued] if queued else \
                self._result(record, notification, ticket, call)
            turn = Turn(ticket.call, record, record.get("base", notify_base), lease)
            self._send(turn, blocks, call)
        return Outcome(HANDLED, turn.answer)

    def dial(self, block: Dial, notify_base: str, state: dict[str, Any] | None) -> Placed:
        """Start an outbound call; its answer reaches the ``on_dial_answered`` handler."""
        key = "D" + secrets.token_hex(10)
        record = {"session": None, "direction": "outbound", "dest": block.dest,
                  "base": notify_base, "seq": 0, "state": dict(state or {})}
        # The lease is kept across the request: its reply brings the session to store,
        # and the call's first notification must wait for it.
        lease = self._lock(key)
        with lease:
            notify_url = self._write_ahead(Turn(key, record, notify_base, lease, True), block, [])
            assert notify_url is not None
            try:
                placed = self.carrier.dial(block, notify_url)
            except ClientError as exc:
                if not getattr(exc, "sent", False):
                    self.store.delete(key)   # the provider never saw it: nothing will come back
                raise
            record.update(session=placed.session, txn_ref=placed.txn_ref)
            lease.write(record, self.record_ttl)
        log.info("%s dialling %s (call %s)", placed.session, block.dest, key)
        return Placed(placed.session, placed.txn_ref, key, placed.reply)

    def unhold(self, key: str, block: Unhold, notify_base: str) -> None:
        """Take a held call off hold; the ``on_unhold`` handler gets the result."""
        # The lease is kept across the request, as for Hold: a Hold still being sent
        # cannot be overtaken by its Unhold.
        lease = self._lock(key)
        with lease as record:
            if record is None or record.get("block") != "hold":
                raise HoiivrError(f"call {key!r} is not on hold (or has ended)")
            base = record.get("base", notify_base)
            notify_url = self._write_ahead(Turn(key, record, base, lease, True), block, [])
            self.carrier.deliver(record["session"], [block], notify_url)

    def store_down(self, notification: Notification, ringing: bool,
                   error: StoreError) -> Outcome:
        """The store failed: the caller still hears the fallback (an apology, or a transfer
        to a person; ``HOIIVR_STORE_DOWN``), sent with no state and no notify URL, after
        which the provider ends the call. The signed body named the session."""
        if notification.ended:
            log.error("%s: the call ended while its state was unavailable (%s): on_hangup "
                      "did not run", notification.session, error)
            raise error
        blocks = list(self.fallback)
        log.error("%s: call state unavailable (%s); sending %s without it",
                  notification.session, error, ", ".join(_label(block) for block in blocks))
        try:
            answer = self.carrier.deliver(notification.session, blocks, None, ringing=ringing)
        except ClientError as exc:
            log.error("%s: the fallback could not be sent either: %s", notification.session,
                      exc)
            raise error from exc
        return Outcome(HANDLED, answer)

    def _lock(self, key: str) -> Lease:
        return self.store.lock(key, lease=self.lock_lease, wait=self.lock_wait)

    # -- deciding --------------------------------------------------------------------------

    def _judge(self, record: dict[str, Any] | None, notification: Notification,
               ticket: Ticket) -> str | None:
        """STALE or FORBIDDEN when the notification must have no effect, else None."""
        if record is None or record.get("ended"):
            return STALE                     # long over, or a duplicate of the end
        if record.get("session") not in (None, notification.session):
            return FORBIDDEN                 # this call's token on another call's body
        if notification.ended:
            # Only a call that has ended produces an "ended" body, so one is never a replay
            # of a live call's; it may come to an older URL (the most recent one Hoiio had).
            return None
        if ticket.seq != record["seq"]:
            return STALE if ticket.seq < record["seq"] else FORBIDDEN
        if notification.ivr_block not in (None, "", ticket.block):
            return FORBIDDEN
        return None

    def _result(self, record: dict[str, Any], notification: Notification, ticket: Ticket,
                call: Call) -> list[Block]:
        """What follows a block's result: the handler's blocks, or, while an :class:`Ask`
        is still asking, its question again, its read-back or its give-up."""
        asked = record.get("ask") if ticket.block == "gather" else None
        if asked is not None:
            blocks, answer = answered(asked, notification.digits or "", unpack)
            if blocks:
                if asked["tries"] > asked["retries"]:
                    del record["ask"]            # given up: the give-up blocks follow
                return blocks
            call = Call(ticket.call, record, replace(notification, digits=answer), ticket.step)
        event = RESULT_EVENTS.get(ticket.block, "")
        return self._asked(record, self._run(event, ticket.step, call))

    @staticmethod
    def _asked(record: dict[str, Any], blocks: list[Block]) -> list[Block]:
        """A handler's blocks as sent: an :class:`Ask` at the end becomes its question, and
        what it asks is kept in the record until it has a valid answer."""
        if blocks and isinstance(blocks[-1], Ask):
            record["ask"] = blocks[-1].to_record(pack)
            return [*blocks[:-1], blocks[-1].question()]
        record.pop("ask", None)
        return blocks

    def _run(self, event: str, step: str | None, call: Call) -> list[Block]:
        """The blocks that come next: the handler's, or a polite goodbye."""
        handler = self.handlers.find_handler(event, step)
        if handler is None:
            log.warning("%s: %s", call.session, no_handler(event, step, self.goodbye))
            return [Hangup(self.goodbye)]
        began = time.monotonic()
        try:
            result = handler(call)
            self._timed(handler, call, time.monotonic() - began)
            blocks = check_flow(result, handler)
            self.carrier.check(blocks, handler_name(handler))
            check_state(call.state)          # fail here, in the handler's name, not in the store
        except Exception as exc:  # noqa: BLE001 -- any handler bug must become an apology
            self._roll_back_state(call)
            return self._recover(call, exc, handler)
        if not blocks:
            log.warning("%s: %s returned no block after %s; hanging up politely",
                        call.session, handler_name(handler), event)
            return [Hangup(self.goodbye)]
        return blocks

    def _timed(self, handler: Callable[..., Any], call: Call, seconds: float) -> None:
        """Say when a handler kept the caller waiting: they hear nothing meanwhile."""
        if seconds >= self.slow_handler:
            log.warning("%s: handler %s took %.1f s; the caller heard silence meanwhile "
                        "(a warning above %g s, HOIIVR_SLOW_HANDLER)", call.session,
                        handler_name(handler), seconds, self.slow_handler)

    def _roll_back_state(self, call: Call) -> None:
        """Forget what a failed handler did to ``call.state`` (an error path: one read)."""
        stored = self.store.get(call.key)
        call.state.clear()
        call.state.update(stored.get("state", {}) if stored else {})

    def _recover(self, call: Call, exc: Exception, source: Callable[..., Any] | None) -> list[Block]:
        """Blocks from the matching error handler, else a short apology and hang-up."""
        error_handler = self.handlers.find_error_handler(exc)
        blocks, also = self._handle(call, exc, error_handler)
        failure = Failure(call.session, call.step, source, error_handler, exc,
                          "handled" if blocks is not None else "apology")
        # The extra names who failed and who answers for it, for tools that read the log.
        extra = {"hoiivr_failure": failure}
        if blocks is not None:
            # As Flask does: an error its handler dealt with is the app's way of working,
            # not a fault: one line, no traceback.
            log.info("%s: %s raised %s: %s; error handler %s answered", call.session,
                     handler_name(source), type(exc).__name__, exc,
                     handler_name(error_handler), extra=extra)
        else:
            log.error("%s: %s failed: %s", call.session, handler_name(source), exc,
                      exc_info=not isinstance(exc, ClientError), extra=extra)
        if also is not None:
            log.error("%s: error handler %s failed too", call.session,
                      handler_name(error_handler), exc_info=also)
        self._tell(failure)
        return blocks or [Hangup(self.apology)]

    def _handle(self, call: Call, exc: Exception, error_handler: Callable[..., Any] | None
                ) -> tuple[list[Block] | None, Exception | None]:
        """The error handler's blocks (None if there is none, or it raised), and what it
        raised."""
        if error_handler is None:
            return None, None
        try:
            blocks = check_flow(error_handler(call, exc), error_handler)
            self.carrier.check(blocks, handler_name(error_handler))
        except Exception as also:  # noqa: BLE001 -- an error handler's bug: the apology
            return None, also
        return blocks, None

    def _tell(self, failure: Failure) -> None:
        for listener in self.failure_listeners:
            try:
                listener(failure)
            except Exception:  # noqa: BLE001 -- a tool's bug must not change the call
                log.exception("%s: the failure listener %r failed", failure.session, listener)

    def _end(self, key: str, lease: Lease, record: dict[str, Any],
             notification: Notification, ticket: Ticket | None) -> Outcome:
        """The call ended: run ``on_dial_failed`` (if so) and ``on_hangup``, once."""
        call = Call(key, record, notification, record.get("step"))
        log.info("%s ended: %s min, %s %s", notification.session, notification.duration,
                 notification.debit, notification.currency or "")
        if ticket is not None and ticket.block == "dial" and notification.dial_status != "answered":
            self._run_final("dial_failed", ticket.step, call)
        self._run_final("hangup", None, call)
        self._bury(lease, notification)
        return Outcome(HANDLED)

    def _bury(self, lease: Lease, notification: Notification) -> None:
        """Replace the call's record with the marker of an ended call."""
        try:
            lease.commit({"ended": True, "session": notification.session}, self.tombstone_ttl)
        except LeaseLost:
            log.warning("%s: the call's lease lapsed while its end was handled; another "
                        "worker holds it now", notification.session)

    def _run_final(self, event: str, step: str | None, call: Call) -> None:
        handler = self.handlers.find_handler(event, step)
        if handler is None:
            return
        try:
            if handler(call) is not None:
                raise CallFlowError(f"handler {handler_name(handler)} returned blocks, but the "
                                    "call has ended; return None", handler_name(handler))
        except Exception as exc:  # noqa: BLE001 -- the call is over; log and move on
            log.exception("%s: %s failed", call.session, handler_name(handler))
            self._tell(Failure(call.session, step, handler, None, exc, "ended"))

    # -- sending ---------------------------------------------------------------------------

    def _write_ahead(self, turn: Turn, last: Block, rest: list[Block]) -> str | None:
        """Record the blocks as sent before delivering them; return the notify URL of
        ``last``, the block whose result comes back next.

        The write is a compare-and-set on the turn's lease (:class:`LeaseLost` if it lapsed
        meanwhile). The lease is given back in the same step, except where the turn keeps it
        and for a Hold: no notification follows one, so nothing proves it arrived before an
        ``unhold()`` is sent.
        """
        record = turn.record
        record["seq"] = seq = record.get("seq", 0) + 1
        record["block"], record["step"], record["queue"] = last.kind, last.name, pack(rest)
        assert turn.lease is not None
        if turn.keep_lease or last.kind == "hold":
            turn.lease.write(record, self.record_ttl)
        else:
            turn.lease.commit(record, self.record_ttl)
        if last.kind == "hold":
            return None                      # Hold never notifies
        return turn.notify_base + self.tokens.dumps(Ticket(turn.key, seq, last.kind, last.name))

    def _send(self, turn: Turn, blocks: list[Block], call: Call) -> None:
        if turn.ringing:
            blocks = answer_first(blocks)
        count = self.carrier.batch(blocks)
        batch, rest = blocks[:count], blocks[count:]
        try:
            notify_url = self._write_ahead(turn, batch[-1], rest)
        except LeaseLost:
            # Fencing: this turn outlived its lease, and a worker that took the call over
            # (a duplicate of this notification, say) decided this step already. Sending
            # too would make the caller hear it twice.
            log.warning("%s: not sending %s: the call's lease (%g s) lapsed while this "
                        "notification was handled, and another worker took the call over; "
                        "a handler slower than the lease runs again on a duplicate",
                        call.session, ", ".join(_label(b) for b in batch), self.lock_lease)
            return
        try:
            turn.answer = self.carrier.deliver(turn.record["session"], batch, notify_url,
                                               ringing=turn.ringing)
        except ClientError as exc:
            self._send_failed(turn, call, batch[-1], exc)
            return
        turn.ringing = False
        log.info("%s -> %s (seq %d)", turn.record["session"],
                 ", ".join(_label(block) for block in batch), turn.record["seq"])

    def _send_failed(self, turn: Turn, call: Call, block: Block, exc: ClientError) -> None:
        # The failed block is never sent again; the caller hears an apology instead of silence.
        if isinstance(exc, CallGone):
            log.info("%s: %s not sent, the call has already ended", call.session, block.kind)
            return
        if turn.recovering or isinstance(block, Hangup):
            log.error("%s: could not send %s: %s", call.session, type(block).__name__, exc)
            return
        turn.recovering = True
        if getattr(exc, "sent", False):
            # The block may have been taken, answered the call and be playing: only a Hangup
            # is accepted mid-block, so the apology cannot be a Play. If it was not taken,
            # the call still rings and the apology goes unheard: the one case in which
            # hoiivr cannot choose both.
            turn.ringing = False
        if turn.lease is None or turn.lease.held:
            self._send(turn, self._asked(turn.record, self._recover(call, exc,
                                                                     self.carrier.deliver)),
                       call)
            return
        # The block went out unlocked: lock the call again, and apologise only if nothing
        # moved it on meanwhile. A notification for this block proves the provider took it
        # after all (a reply lost on its way back), and an ended call has nobody to
        # apologise to.
        turn.lease = self._lock(turn.key)
        with turn.lease as record:
            if record is None or record.get("ended") or record.get("seq") != turn.record["seq"]:
                log.info("%s: %s failed (%s), but the call has moved on since",
                         call.session, block.kind, exc)
                return
            self._send(turn, self._asked(turn.record, self._recover(call, exc,
                                                                     self.carrier.deliver)),
                       call)


def answer_first(blocks: list[Block]) -> list[Block]:
    """``blocks`` with a Hangup that has words to say split, so that the call is answered
    first: a Hangup on a ringing call rejects it, and its ``msg`` would never be heard. A
    bare ``Hangup()`` (or a forced one) still rejects the call: that is how an app refuses
    one."""
    first = blocks[0]
    if isinstance(first, Hangup) and first.msg and not first.force:
        return [Play(first.msg, tag=first.tag), first.replace(msg=None), *blocks[1:]]
    return blocks


def _label(block: Block) -> str:
    return type(block).__name__ + (f" step={block.name}" if block.name else "")

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

import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Callable, ContextManager

from .ask import Ask, answered, valid_function
from .awaiting import Deadlines, end_fields, end_notification
from .blocks import Block, Dial, Hangup, Play, Unhold
from .call import Call
from .carriers.base import Answer, Carrier, Placed
from .errors import (CallFlowError, CallGone, ClientError, HoiivrError, LeaseLost,
                     LockTimeout, StoreError)
from .filler import FILLER_STEP, Patience, Watch, Watchdog, filler_replay, replay_step
from .flow import check_flow, handler_name, no_handler, pack, unpack
from .notification import Notification
from .registry import Handlers
from .state import check_state
from .stores import Lease, Store
from .telemetry import TRACE, Tracing, kinds
from .tokens import NotifyTokens, Ticket

log = logging.getLogger("hoiivr")

HANDLED, STALE, FORBIDDEN = "handled", "stale", "forbidden"
#: The key of a call's count of filler replays (after its own), and how long it is kept.
REPLAYS, REPLAYS_TTL = "~filler-replays", 3600.0

#: What an end notification that is not the last (``Notification.final``) says, kept for
#: the last one.
ENDING = ("record_url", "transfer_status", "dial_status", "digits")

#: The blocks whose result a provider that reports the end apart (``Carrier.split_end``)
#: may send after the end itself: on_hangup waits for it (hoiivr/awaiting.py). (A
#: ``<Dial>`` the caller hangs up on requests no action: TWIML.md.)
AWAITED = frozenset({"record"})
#: How many times a lapsed wait tries to end its call, ``action_wait`` apart.
AWAIT_TRIES = 6

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
    #: Delivered while the webhook is still unanswered (a slow handler's filler or
    #: apology): through the carrier's REST API, never as the webhook's answer.
    out_of_turn: bool = False


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
    #: How long the filler's notification waits for its handler to return before the
    #: caller hears the filler again.
    refill_wait = 1.0

    def __init__(self, handlers: Handlers, store: Store, carrier: Carrier, tokens: NotifyTokens,
                 record_ttl: float | None = None, tombstone_ttl: float = 86400.0,
                 fallback: Sequence[Block] | None = None, slow_handler: float = 2.0,
                 patience: Patience | None = None, tracing: Tracing | None = None,
                 action_wait: float = 10.0,
                 context: Callable[[], ContextManager[Any]] | None = None) -> None:
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
        #: Seconds after which a handler is logged as slow.
        self.slow_handler = slow_handler
        #: When a slow handler's caller hears the filler, and the apology.
        self.patience = patience or Patience()
        self.watchdog = Watchdog(self.patience)
        #: OpenTelemetry's spans (``hoiivr/telemetry.py``); None costs nothing.
        self.tracing = tracing
        #: Called with each :class:`Failure` (see ``Runtime.on_failure``).
        self.failure_listeners: list[Callable[[Failure], None]] = []
        #: How long an end that overtook a Record's result waits for it.
        self.action_wait = action_wait
        #: Those waits, run in ``context()`` (the app's) when they lapse.
        self.deadlines = Deadlines(context)

    def close(self) -> None:
        """Stop the watchdog; end the calls still waiting for a result now."""
        self.watchdog.close()
        self.deadlines.run_all()

    # -- entry points ----------------------------------------------------------------------

    def ringing(self, notification: Notification, notify_base: str) -> Outcome:
        """A notification at the answer URL: a new incoming call, or one that ended unanswered."""
        if self.tracing is None:
            return self._ringing(notification, notify_base)
        return self.tracing.notification(lambda: self._ringing(notification, notify_base),
                                         call=notification.session,
                                         session=notification.session,
                                         event="hangup" if notification.ended else "answer")

    def _ringing(self, notification: Notification, notify_base: str) -> Outcome:
        key = notification.session
        lease = self._lock(key)
        with lease as record:
            traced = self.tracing.loaded(record) if self.tracing is not None else None
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
            if traced:
                record[TRACE] = traced
            call = Call(key, record, notification)
            turn = Turn(key, record, notify_base, lease, ringing=True)
            self._respond(turn, call, lambda: self._asked(record, self._run("answer", None, call)))
        return Outcome(HANDLED, turn.answer)

    def notify(self, notification: Notification, ticket: Ticket, notify_base: str) -> Outcome:
        """A notification at a block's notify URL, whose token held ``ticket``."""
        if self.tracing is None:
            return self._notify(notification, ticket, notify_base)
        return self.tracing.notification(
            lambda: self._notify(notification, ticket, notify_base), call=ticket.call,
            session=notification.session, step=ticket.step,
            event="hangup" if notification.ended else RESULT_EVENTS.get(ticket.block))

    def _notify(self, notification: Notification, ticket: Ticket, notify_base: str) -> Outcome:
        filler = filler_replay(ticket.step) is not None and not notification.ended
        lease = self.store.lock(ticket.call, lease=self.lock_lease,
                                wait=self.refill_wait if filler else self.lock_wait)
        locked = False
        try:
            with lease as record:
                locked = True
                return self._notified(lease, record, notification, ticket, notify_base)
        except LockTimeout:
            if locked or not filler:
                raise
            # The filler has played and its handler, holding the call, still works.
            return self._fill_again(notification, ticket, notify_base)

    def _notified(self, lease: Lease, record: dict[str, Any] | None,
                  notification: Notification, ticket: Ticket, notify_base: str) -> Outcome:
        if self.tracing is not None:
            self.tracing.loaded(record)
        verdict = self._judge(record, notification, ticket)
        if verdict is not None:
            return Outcome(verdict)
        assert record is not None
        if notification.ended:
            if not notification.final:
                return self._ending(ticket.call, lease, record, notification)
            return self._end(ticket.call, lease, record, notification, ticket)
        record["session"] = notification.session
        call = Call(ticket.call, record, notification, ticket.step)
        turn = Turn(ticket.call, record, record.get("base", notify_base), lease)
        queued = record.get("queue")
        if queued:
            self._send(turn, [unpack(item) for item in queued], call)
        elif filler_replay(ticket.step) is not None:
            # The filler's handler never returned its blocks: its worker died.
            log.error("%s: the handler the caller heard the filler for never finished (did "
                      "its worker die?); apologising", call.session)
            self._send(turn, [Hangup(self.apology)], call)
        else:
            self._respond(turn, call, lambda: self._result(record, notification, ticket, call))
        return Outcome(HANDLED, turn.answer)

    def dial(self, block: Dial, notify_base: str, state: dict[str, Any] | None) -> Placed:
        """Start an outbound call; its answer reaches the ``on_dial_answered`` handler."""
        if self.tracing is None:
            return self._dial(block, notify_base, state, None)
        with self.tracing.span("hoiivr dial", dest=block.dest) as span:
            return self._dial(block, notify_base, state, self.tracing.traceparent(span))

    def _dial(self, block: Dial, notify_base: str, state: dict[str, Any] | None,
              traced: str | None) -> Placed:
        key = "D" + secrets.token_hex(10)
        record = {"session": None, "direction": "outbound", "dest": block.dest,
                  "base": notify_base, "seq": 0, "state": dict(state or {})}
        if traced:
            record[TRACE] = traced         # the call's notifications are the dial's children
        # The lease is kept across the request: its reply brings the session to store,
        # and the call's first notification must wait for it.
        lease = self._lock(key)
        with lease:
            notify_url = self._write_ahead(Turn(key, record, notify_base, lease, True), block, [])
            assert notify_url is not None
            try:
                placed = self.carrier.dial(block, notify_url)
            except Exception as exc:
                # Refused before it was sent (a carrier's own checks, or a request that
                # never left): nothing will come back for this record.
                if not getattr(exc, "sent", False):
                    self.store.delete(key)
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
        if not _well_formed(record):
            # Valid JSON another program wrote (a migration, a tool): the caller hears the
            # store's fallback, not a 500.
            raise StoreError(f"call {ticket.call!r}: the stored record is not one hoiivr "
                             "wrote (its seq, session, queue or state has another shape)")
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
            try:
                blocks, given = answered(asked, notification.digits or "", unpack,
                                         notification.speech, notification.confidence)
            except Exception as exc:  # noqa: BLE001 -- its valid= function is the app's code
                record.pop("ask", None)
                source = None
                with contextlib.suppress(Exception):     # named in the log, if it can be
                    source = valid_function(asked)
                return self._asked(record, self._recover(call, exc, source))
            if blocks:
                if asked["tries"] > asked["retries"]:
                    del record["ask"]            # given up: the give-up blocks follow
                return blocks
            assert given is not None
            # After a read-back the notification holds the "1" that kept the answer: the
            # handler sees what the caller gave as the answer instead.
            said = replace(notification, digits=given.digits, speech=given.speech,
                           confidence=given.confidence)
            call = Call(ticket.call, record, said, ticket.step, answer=given.answer)
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
        self._tell(event, call)
        handler = self.handlers.find_handler(event, step)
        if handler is None:
            log.warning("%s: %s", call.session, no_handler(event, step, self.goodbye))
            return [Hangup(self.goodbye)]
        began = time.monotonic()
        try:
            result = handler(call) if self.tracing is None else \
                self._traced(handler, call, event, step)
            self._timed(handler, call, time.monotonic() - began)
            blocks = check_flow(result, handler)
            self.carrier.check(blocks, handler_name(handler))
            if blocks and isinstance(blocks[-1], Ask):
                # Sent later, from the record, with no handler to blame then.
                self.carrier.check(blocks[-1].give_up_blocks, handler_name(handler))
            check_state(call.state)          # fail here, in the handler's name, not in the store
        except Exception as exc:  # noqa: BLE001 -- any handler bug must become an apology
            self._roll_back_state(call)
            return self._recover(call, exc, handler)
        if not blocks:
            log.warning("%s: %s returned no block after %s; hanging up politely",
                        call.session, handler_name(handler), event)
            return [Hangup(self.goodbye)]
        return blocks

    def _traced(self, handler: Callable[..., Any], call: Call, event: str,
                step: str | None) -> Any:
        assert self.tracing is not None
        with self.tracing.span("hoiivr handler", handler=handler_name(handler), event=event,
                               step=step):
            return handler(call)

    def _timed(self, handler: Callable[..., Any], call: Call, seconds: float) -> None:
        """Say when a handler kept the caller waiting."""
        if seconds >= self.slow_handler:
            log.warning("%s: handler %s took %.1f s; the caller waited meanwhile (a warning "
                        "above %g s, HOIIVR_SLOW_HANDLER)", call.session,
                        handler_name(handler), seconds, self.slow_handler)

    # -- slow handlers (hoiivr/filler.py) ------------------------------------------------

    def _respond(self, turn: Turn, call: Call, decide: Callable[[], list[Block]]) -> None:
        """Send the blocks ``decide()`` (the handler) gives, watched: if it is slow, the
        caller hears the filler meanwhile; if it never returns, the apology."""
        watch = self.watchdog.watch(
            None if turn.ringing else self._in_trace(lambda watch: self._fill(watch, turn, call)),
            self._in_trace(lambda watch: self._time_out(watch, turn, call)))
        blocks = decide()
        ended = watch.finish()
        if ended is None:
            self._send(turn, blocks, call)
        elif ended == "filled":
            self._after_filler(turn, watch, blocks, call)
        else:
            log.warning("%s: the handler for %s returned after %.1f s, past "
                        "HOIIVR_HANDLER_TIMEOUT: the caller had the apology; dropped %s and "
                        "its changes to call.state", call.session, _doing(call),
                        time.monotonic() - watch.began, ", ".join(_label(b) for b in blocks))
            turn.answer = self.carrier.acknowledge()

    def _in_trace(self, action: Callable[[Watch], None]) -> Callable[[Watch], None]:
        """``action`` for the watchdog's thread, in this notification's trace: the spans of
        the filler and the apology are the call's, not roots of traces of their own."""
        return action if self.tracing is None else self.tracing.carried(action)

    def _fill(self, watch: Watch, turn: Turn, call: Call) -> None:
        """(The watchdog's thread.) The handler is slow: the caller hears the filler, a Play
        whose notification brings the handler's blocks."""
        filler = self.patience.filler
        assert filler is not None and turn.lease is not None
        with watch.lock:
            if watch.done:
                return
            record = self._committed(turn)
            filling = Turn(turn.key, record, turn.notify_base, turn.lease, keep_lease=True,
                           out_of_turn=True)
            try:
                notify_url = self._write_ahead(filling, filler, [])
                self._deliver(filling, [filler], notify_url)
            except (ClientError, StoreError) as exc:
                log.warning("%s: the handler for %s is slow, and the filler could not be "
                            "sent (%s): the caller waits in silence", call.session,
                            _doing(call), exc)
                return
            watch.filled, watch.record = True, record
        log.info("%s: the handler for %s is still working after %g s: the caller hears "
                 "the filler", call.session, _doing(call), self.patience.filler_after)

    def _after_filler(self, turn: Turn, watch: Watch, blocks: list[Block], call: Call) -> None:
        """The filler is playing: the handler's blocks wait in the call's record, to be
        sent when it has played (with the handler's state, which is the step's)."""
        assert watch.record is not None and turn.lease is not None
        record = turn.record
        record.update(seq=watch.record["seq"], block="play", step=FILLER_STEP,
                      queue=pack(blocks))
        try:
            turn.lease.commit(record, self.record_ttl)
        except LeaseLost:
            log.warning("%s: not keeping %s: the call's lease lapsed while its handler ran",
                        call.session, ", ".join(_label(b) for b in blocks))
            return
        turn.answer = self.carrier.acknowledge()

    def _time_out(self, watch: Watch, turn: Turn, call: Call) -> None:
        """(The watchdog's thread.) The handler has not returned: the caller hears the
        apology now, and what the handler returns later is dropped."""
        assert turn.lease is not None
        with watch.lock:
            if watch.done:
                return
            watch.timed_out = True
            log.error("%s: the handler for %s has not returned after %g s "
                      "(HOIIVR_HANDLER_TIMEOUT): the caller hears the apology", call.session,
                      _doing(call), self.patience.timeout)
            apology: list[Block] = [Hangup(self.apology)]
            if watch.record is not None:
                # The filler is playing: its notification sends the apology.
                watch.record["queue"] = pack(apology)
                try:
                    turn.lease.commit(watch.record, self.record_ttl)
                except StoreError as exc:
                    log.error("%s: the apology could not be queued: %s", call.session, exc)
                return
            late = Turn(turn.key, self._committed(turn), turn.notify_base, turn.lease,
                        ringing=turn.ringing, out_of_turn=True)
            self._send(late, apology, call)

    def _committed(self, turn: Turn) -> dict[str, Any]:
        """The call's record as it was before its handler ran (which may still be changing
        ``call.state``)."""
        stored = None if turn.ringing else self.store.get(turn.key)
        if stored is None:
            stored = {**turn.record, "state": {}}
            stored.pop("ask", None)
        stored["session"] = turn.record["session"]
        return stored

    def _fill_again(self, notification: Notification, ticket: Ticket,
                    notify_base: str) -> Outcome:
        """The filler has played, and its handler still holds the call: the caller hears it
        again. The call's record stays as it is (it is locked); each replay is counted
        in a record of its own, so that a duplicate of a replay's notification plays
        nothing: one REST request per replay, whatever the duplicates."""
        record = self.store.get(ticket.call)
        verdict = self._judge(record, notification, ticket)
        if verdict is not None:
            return Outcome(verdict)
        assert record is not None and self.patience.filler is not None
        replay = filler_replay(ticket.step)
        lease = self._lock(ticket.call + REPLAYS)
        with lease as replays:
            sent = replays["sent"] if replays and replays["seq"] == ticket.seq else 0
            if replay != sent:
                return Outcome(STALE)         # a duplicate: its replay has been sent
            lease.commit({"seq": ticket.seq, "sent": sent + 1}, REPLAYS_TTL)
        again = Ticket(ticket.call, ticket.seq, ticket.block, replay_step(sent + 1))
        notify_url = record.get("base", notify_base) + self.tokens.dumps(again)
        try:
            answer = self.carrier.deliver(notification.session, [self.patience.filler],
                                          notify_url)
        except ClientError as exc:
            log.warning("%s: the filler could not be played again: %s", notification.session,
                        exc)
            return Outcome(HANDLED)
        return Outcome(HANDLED, answer)

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
        self._report(failure)
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
            self._roll_back_state(call)          # what it did to call.state, too
            return None, also
        return blocks, None

    def _report(self, failure: Failure) -> None:
        for listener in self.failure_listeners:
            try:
                listener(failure)
            except Exception:  # noqa: BLE001 -- a tool's bug must not change the call
                log.exception("%s: the failure listener %r failed", failure.session, listener)

    def _ending(self, key: str, lease: Lease, record: dict[str, Any],
                notification: Notification) -> Outcome:
        """The call has ended, and the provider will say so again with its billing: keep
        what this notification says (a recording, a transfer's outcome) for that. If that
        report came first and waits (:meth:`_await_result`), the call ends now."""
        record["ending"] = {name: getattr(notification, name) for name in ENDING
                            if getattr(notification, name) is not None}
        awaited = record.pop("end", None)
        if awaited is not None:
            return self._ended(key, lease, record, end_notification(awaited), None)
        self._note_end(lease, record, notification)
        log.info("%s has ended; on_hangup runs when the provider reports it with the billing",
                 notification.session)
        return Outcome(HANDLED)

    def _end(self, key: str, lease: Lease, record: dict[str, Any],
             notification: Notification, ticket: Ticket | None) -> Outcome:
        """The call ended: run ``on_dial_failed`` (if so) and ``on_hangup``, once, with
        the result of the block it ended in, if that may still come."""
        if (notification.final and self.carrier.split_end and record.get("block") in AWAITED
                and "ending" not in record):
            self._await_result(key, lease, record, notification)
            return Outcome(HANDLED)
        return self._ended(key, lease, record, notification, ticket)

    def _await_result(self, key: str, lease: Lease, record: dict[str, Any],
                      notification: Notification) -> None:
        """Keep the end for the result it overtook (:meth:`_ending` ends the call), for at
        most :attr:`action_wait` seconds (:meth:`_end_awaited`). A duplicate of the end
        finds it kept and waits too: the first one's wait may have gone with its worker."""
        if "end" not in record:
            record["end"] = end_fields(notification)
            self._note_end(lease, record, notification)
            log.info("%s ended during its %s; on_hangup waits up to %g s for its result",
                     notification.session, record["block"], self.action_wait)
        self.deadlines.at(self.action_wait, notification.session,
                          lambda: self._end_awaited(key, notification.session))

    def _note_end(self, lease: Lease, record: dict[str, Any],
                  notification: Notification) -> None:
        try:
            lease.commit(record, self.record_ttl)
        except LeaseLost:
            log.warning("%s: the call's lease lapsed while its end was noted",
                        notification.session)

    def _end_awaited(self, key: str, session: str, tries: int = 1) -> None:
        """(A timer's thread.) The result never came: end the call without it. A lease
        another worker still holds, or a store that fails, is tried again, until the
        lease is taken: past that, on_hangup may have run."""
        locked = False
        try:
            lease = self._lock(key)
            with lease as record:
                locked = True
                if record is None or "end" not in record:
                    return                       # it came, and the call has ended
                notification = end_notification(record.pop("end"))
                log.warning("%s: the result of its %s did not come within %g s of the "
                            "call's end (HOIIVR_ACTION_WAIT); on_hangup runs without it",
                            session, record["block"], self.action_wait)
                self._ended(key, lease, record, notification, None)
        except (LockTimeout, StoreError) as exc:
            if locked:
                raise
            if tries >= AWAIT_TRIES:
                log.error("%s: the call could not be ended after %d tries (%s): on_hangup "
                          "did not run", session, tries, exc)
                return
            log.warning("%s: the call could not be ended (%s); trying again in %g s",
                        session, exc, self.action_wait)
            self.deadlines.at(self.action_wait, session,
                              lambda: self._end_awaited(key, session, tries + 1))

    def _ended(self, key: str, lease: Lease, record: dict[str, Any],
               notification: Notification, ticket: Ticket | None) -> Outcome:
        """Run ``on_dial_failed`` (if so) and ``on_hangup``, and bury the call."""
        ending = record.get("ending")
        if ending:
            notification = replace(notification, **{
                name: value for name, value in ending.items()
                if name in ENDING and getattr(notification, name) is None})
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
        tombstone = {"ended": True, "session": notification.session}
        try:
            if self.tracing is None:
                lease.commit(tombstone, self.tombstone_ttl)
            else:
                with self.tracing.span("hoiivr store write", ended=True):
                    lease.commit(tombstone, self.tombstone_ttl)
        except LeaseLost:
            log.warning("%s: the call's lease lapsed while its end was handled; another "
                        "worker holds it now", notification.session)

    def _tell(self, event: str, call: Call) -> None:
        """Tell the event's listeners (``Handlers.add_listener``); their failures are
        logged: a listener never changes what the caller hears."""
        for listener in self.handlers.listeners.get(event, ()):
            try:
                listener(call)
            except Exception:  # noqa: BLE001 -- an extension's bug must not end the call
                log.exception("%s: listener %s of %s failed", call.session,
                              handler_name(listener), event)

    def _run_final(self, event: str, step: str | None, call: Call) -> None:
        self._tell(event, call)
        handler = self.handlers.find_handler(event, step)
        if handler is None:
            return
        try:
            result = handler(call) if self.tracing is None else \
                self._traced(handler, call, event, step)
            if result is not None:
                raise CallFlowError(f"handler {handler_name(handler)} returned blocks, but the "
                                    "call has ended; return None", handler_name(handler))
        except Exception as exc:  # noqa: BLE001 -- the call is over; log and move on
            log.exception("%s: %s failed", call.session, handler_name(handler))
            self._report(Failure(call.session, step, handler, None, exc, "ended"))

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
        keep = turn.keep_lease or last.kind == "hold"
        if self.tracing is None:
            self._store(turn.lease, record, keep)
        else:
            with self.tracing.span("hoiivr store write", seq=seq, block=last.kind):
                self._store(turn.lease, record, keep)
        if last.kind == "hold":
            return None                      # Hold never notifies
        return turn.notify_base + self.tokens.dumps(Ticket(turn.key, seq, last.kind, last.name))

    def _store(self, lease: Lease, record: dict[str, Any], keep: bool) -> None:
        if keep:
            lease.write(record, self.record_ttl)
        else:
            lease.commit(record, self.record_ttl)

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
            turn.answer = self._deliver(turn, batch, notify_url)
        except ClientError as exc:
            self._send_failed(turn, call, batch[-1], exc)
            return
        turn.ringing = False
        if log.isEnabledFor(logging.INFO):   # the labels cost more than the check
            log.info("%s -> %s (seq %d)", turn.record["session"],
                     ", ".join(_label(block) for block in batch), turn.record["seq"])

    def _deliver(self, turn: Turn, batch: list[Block], notify_url: str | None) -> Answer | None:
        deliver = self.carrier.interject if turn.out_of_turn else self.carrier.deliver
        if self.tracing is None:
            return deliver(turn.record["session"], batch, notify_url, ringing=turn.ringing)
        with self.tracing.span("hoiivr deliver", carrier=self.carrier.name, blocks=kinds(batch),
                               out_of_turn=turn.out_of_turn):
            return deliver(turn.record["session"], batch, notify_url, ringing=turn.ringing)

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


def _doing(call: Call) -> str:
    return f"step {call.step!r}" if call.step else "the incoming call"


def _label(block: Block) -> str:
    return type(block).__name__ + (f" step={block.name}" if block.name else "")


def _well_formed(record: dict[str, Any]) -> bool:
    """Whether a live call's record has the shape the dispatcher reads."""
    seq, queue = record.get("seq"), record.get("queue", [])
    return (type(seq) is int and isinstance(record.get("session"), (str, type(None)))
            and isinstance(record.get("state", {}), dict) and isinstance(queue, list)
            and all(isinstance(item, dict) for item in queue))

"""Calls placed through the Calls resource: queued, then dialled at the account's pace
(TWIML.md §4, §6).

A call leaves the queue at most ``cps`` a second per account (one more waits for its
slot); one still queued after 24 hours fails (22005). On leaving it is ``initiated``, and
refused (``failed``, 10004) if the account already has its limit of calls in progress;
then it rings the called phone, ``ringing``, up to its ``Timeout``. Answered, it is
``in-progress`` and runs the TwiML of its ``Url`` (or its ``Twiml``); otherwise it ends
``busy``, ``failed`` or ``no-answer``. ``canceled`` ends a call that is queued or ringing.
"""
from __future__ import annotations

from .. import calls
from ..accounts import Phone, TwilioAccount
from ..calls import Session
from .errors import TwimlError
from .fetching import Fetching
from .state import Hook
from .verbs import load

#: A call queued this long fails (22005).
QUEUE_LIMIT = 24 * 3600.0


class Outbound(Fetching):
    """Places the calls the Calls resource accepted."""

    #: Each account's next free moment to start a call, on the engine's clock.
    next_slot: dict[str, float]

    def queue(self, s: Session, account: TwilioAccount) -> None:
        """Queue the new call ``s``; it starts at its account's next slot."""
        s.state = calls.QUEUED
        now = self.now()
        slot = max(now, self.next_slot.get(account.sid, now))
        self.next_slot[account.sid] = slot + 1.0 / account.cps
        if slot - now > QUEUE_LIMIT:
            self.after(s, "block", QUEUE_LIMIT, self._expired)
        else:
            self.after(s, "block", slot - now, self._initiate)

    def _expired(self, s: Session) -> None:
        self.call(s).end_status = "failed"
        s.log(self.now(), "twiml_error", code=22005, reason="the call was queued for more "
              "than 24 hours (the account's calls per second)", url=None)
        self.engine._end(s, "queued for more than 24 hours (22005)")

    def _initiate(self, s: Session) -> None:
        t = self.call(s)
        t.status = "initiated"
        s.state = calls.DIALING
        s.log(self.now(), "initiated")
        self.status_event(s, "initiated")
        if self._busy_account(s):
            self.engine.stats.refused(s.account.app_id)
            t.end_status = "failed"
            s.log(self.now(), "twiml_error", code=10004, url=None,
                  reason=f"the account has {self.engine.max_concurrent_calls} calls in "
                         "progress, its limit")
            self.engine._end(s, "call concurrency limit exceeded (10004)")
            return
        self.engine.count_started(s)
        t.status = "ringing"
        self.status_event(s, "ringing")
        phone = self.engine.ring_phone(s, t.to)    # logged: a trace replays it so
        s.ringing_phone = t.to if phone.manual else None
        timing = self.engine.timing
        if phone.behaviour == "answer" and timing.answer_after <= t.timeout:
            self.after(s, "block", timing.answer_after, lambda s: self.called(s, phone))
        else:
            fail = {"busy": ("busy", timing.busy_after), "failed": ("failed",
                                                                    timing.failed_after)}
            status, delay = fail.get(phone.behaviour, ("no-answer", t.timeout))
            self.after(s, "block", min(delay, t.timeout),
                       lambda s: self.unreached(s, status))

    def _busy_account(self, s: Session) -> bool:
        active = self.engine._active.get(s.account.app_id, set())
        busy = [sid for sid in active if sid != s.id
                and self.engine.sessions[sid].state != calls.QUEUED]
        return len(busy) >= self.engine.max_concurrent_calls

    def called(self, s: Session, phone: Phone) -> None:
        """The called phone was answered (or, a manual one, rejected)."""
        if phone.behaviour != "answer":
            self.unreached(s, "busy")
            return
        t = self.call(s)
        s.ringing_phone = None
        self.answer(s)
        if t.record:
            s.monitor_started = self.now()
        self.limit_time(s)
        self.instructions(s)

    def limit_time(self, s: Session) -> None:
        """End the answered call once its ``TimeLimit`` has passed since the answer (at
        once if that is past: a limit lowered by an update)."""
        t = self.call(s)
        if t.time_limit and s.answered_at is not None:
            self.after(s, "time_limit", s.answered_at + t.time_limit - self.now(),
                       lambda s: self.engine._end(s, "its TimeLimit was reached"))

    def instructions(self, s: Session) -> None:
        """Run the call's ``Twiml``, or request its ``Url``."""
        t = self.call(s)
        if t.answer_twiml is not None:
            try:
                document = load(t.answer_twiml.encode("utf-8"))
            except TwimlError as exc:
                self.fail(s, exc)
                return
            self.run(s, document, None)
        elif t.answer_hook is not None:
            self.fetch(s, "voice", t.answer_hook)

    def unreached(self, s: Session, status: str) -> None:
        self.call(s).end_status = status
        self.engine._end(s, f"the called phone: {status}")

    # -- the Calls resource's updates -----------------------------------------------------

    def hang_up(self, s: Session, status: str) -> None:
        """``Status=canceled`` (a queued or ringing call) or ``completed`` (any call)."""
        if s.answered_at is None:
            self.call(s).end_status = "canceled"
            self.engine._end(s, f"{status} through the Calls resource")
        elif status == "completed":
            self.engine._end(s, "hung up through the Calls resource")

    def redirect(self, s: Session, hook: Hook | None, twiml: str | None) -> None:
        """New instructions for the call: at once if it is answered or is an incoming call
        (waiting for its first document, whose answer is then dropped: chosen); a placed
        call not answered yet runs them once it is."""
        t = self.call(s)
        t.answer_hook, t.answer_twiml = hook, twiml
        if s.answered_at is None and t.direction != "inbound":
            return
        self.engine._cut_prompt(s)
        self.cancel(s, "block", "silence", "fetch")
        s.record_started, s.ringing_phone, t.leg, t.fetch = None, None, None, None
        s.log(self.now(), "redirected", url=hook.url if hook else None)
        self.instructions(s)

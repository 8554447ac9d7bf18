"""``<Dial>``: ring up to ten parties at once, connect the first that answers, and when
that leg ends (or nobody answered) request the action or go on (TWIML.md §3).

Each party is a scripted phone of the simulator (``set_phone``): one that answers within
``timeout`` connects and talks for its ``talk_seconds`` (at most ``timeLimit``); a manual
one rings until a person answers or rejects it; otherwise the Dial ends ``busy``,
``failed`` or, after ``timeout``, ``no-answer``. ``hangupOnStar`` lets the caller end the
leg with ``*``. The action hears ``DialCallStatus``, ``DialCallSid``, ``DialCallDuration``
and, with ``record``, ``RecordingUrl``. The leg has a call sid but no call of its own in
the simulator.
"""
from __future__ import annotations

import secrets

from .. import calls
from ..accounts import Phone
from ..calls import Session, Transfer
from .prompts import Prompting
from .state import Leg
from .verbs import Dial, Target

#: The order in which outcomes of parties that did not answer sum up the Dial's.
FAILURES = ("no-answer", "busy", "failed")


class Dialling(Prompting):
    """Runs ``<Dial>``."""

    def dial(self, s: Session) -> Dial:
        verb = self.call(s).verb
        assert isinstance(verb, Dial)
        return verb

    def run_dial(self, s: Session, verb: Dial) -> None:
        timing = self.engine.timing
        # Each number as it is scripted now, logged: a trace replays it so.
        rings = [(_address(target), self.engine.ring_phone(s, _address(target)))
                 for target in verb.targets]
        first = rings[0][0]
        s.transfers.append(Transfer(first, "continue" if verb.action else "hangup"))
        self.call(s).leg = Leg("CA" + secrets.token_hex(16), self.now(), first)
        s.state = calls.TRANSFERRING
        s.ringing_phone = next((number for number, phone in rings if phone.manual), None)
        answering = [(timing.answer_after, number, phone) for number, phone in rings
                     if phone.behaviour == "answer" and timing.answer_after <= verb.timeout]
        if answering:
            delay, number, phone = min(answering, key=lambda ring: ring[0])
            self.after(s, "block", delay,
                       lambda s: self._connected(s, number, phone.talk_seconds))
            return
        outcomes = [self._failure(phone, verb.timeout) for _, phone in rings]
        status = min((status for status, _ in outcomes), key=FAILURES.index)
        delay = max(seconds for _, seconds in outcomes)
        self.after(s, "block", delay, lambda s: self.leg_over(s, status))

    def _failure(self, phone: Phone, timeout: float) -> tuple[str, float]:
        """How a party that does not answer in time ends, and when."""
        timing = self.engine.timing
        if phone.behaviour == "busy":
            return "busy", min(timing.busy_after, timeout)
        if phone.behaviour == "failed":
            return "failed", min(timing.failed_after, timeout)
        return "no-answer", timeout       # unanswered, manual, or answering too late

    def dial_picked_up(self, s: Session, number: str, phone: Phone) -> None:
        if phone.behaviour == "answer":
            self._connected(s, number, phone.talk_seconds)
        else:
            self.leg_over(s, "busy")

    def _connected(self, s: Session, number: str, talk_seconds: float) -> None:
        verb, leg = self.dial(s), self.call(s).leg
        assert leg is not None and s.transfer is not None
        now = self.now()
        leg.answered_at, leg.dest, leg.status = now, number, "in-progress"
        s.transfer.dest, s.transfer.status = number, "answered"
        s.ringing_phone = None
        s.state = calls.TALKING
        s.log(now, "transferred", dest=number)
        self.after(s, "block", min(talk_seconds, verb.time_limit),
                   lambda s: self.leg_over(s, "completed"))

    def dial_keys(self, s: Session, keys: str) -> None:
        if s.state == calls.TALKING and self.dial(s).hangup_on_star and "*" in keys:
            self.leg_over(s, "completed")
        else:
            s.log(self.now(), "keys_ignored", digits=keys,
                  reason="the call is connected to the dialled party")

    def leg_over(self, s: Session, status: str) -> None:
        """The dialled leg ended (``completed``) or never connected: the action, or on."""
        verb, t = self.dial(s), self.call(s)
        leg = t.leg
        assert leg is not None and s.transfer is not None
        self.cancel(s, "block")
        s.ringing_phone, t.leg = None, None
        now = self.now()
        duration = round(now - leg.answered_at) if leg.answered_at is not None else 0
        if status != "completed":
            s.transfer.status = status
        s.log(now, "dial_ended", dest=leg.dest, status=status, duration=duration)
        rec = None
        if verb.record != "do-not-record" and leg.answered_at is not None:
            start = leg.started if "ringing" in verb.record else leg.answered_at
            rec = self.engine._save(s, "dial", start, now)
        hook = self.action(s, verb.action, verb.method) if verb.action else None
        if hook is None:
            self.next_verb(s)
            return
        params = [("DialCallStatus", status), ("DialCallSid", leg.sid),
                  ("DialCallDuration", str(duration))]
        self.fetch(s, "action", hook, params + ([("RecordingUrl", rec.url)] if rec else []))


def _address(target: Target) -> str:
    return f"client:{target.address}" if target.kind == "client" else target.address

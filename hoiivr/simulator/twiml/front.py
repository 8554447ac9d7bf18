""":class:`TwimlFront`: the calls of TwiML numbers, run verb by verb on the engine.

It is the :class:`~hoiivr.simulator.calls.Front` of each such call: the engine hands it
the caller's keys, speech and hang-up, the answers to the call's webhooks, and the call's
end; it rings the Voice URL of a number called (:meth:`ring`) and places the calls the
Calls resource accepts (:meth:`place`). The verbs are :mod:`.prompts`, :mod:`.gather`,
:mod:`.record` and :mod:`.dial`; requests and their answers :mod:`.fetching`; status
callbacks :mod:`.callbacks`.
"""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .. import calls
from ..accounts import Phone, TwilioAccount, TwimlNumber
from ..calls import Session
from ..media import Recording
from ..speech import Heard
from .dial import Dialling
from .errors import TwimlError
from .fetching import describe
from .gather import Gathering
from .outbound import Outbound
from .record import Recorder
from .state import FINAL, Hook, TwimlCall
from .verbs import (Dial, Gather, Hangup, Pause, Play, Record, Redirect, Reject, Say,
                    Unsupported, Verb)

if TYPE_CHECKING:
    from ..engine import Engine


class TwimlFront(Dialling, Recorder, Gathering, Outbound):
    """Runs the calls of TwiML numbers on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.next_slot = {}

    # -- a call begins ------------------------------------------------------------------

    def ring(self, s: Session, number: TwimlNumber) -> None:
        """``s`` is a new call to ``number``: request its Voice URL, ``ringing``."""
        s.front = self
        s.twiml = TwimlCall(
            number.account_sid, "inbound", s.caller or "", number.number, "ringing",
            fallback=Hook(number.fallback_url, number.fallback_method)
            if number.fallback_url else None,
            status_callback=Hook(number.status_callback, number.status_callback_method)
            if number.status_callback else None)
        if number.voice_url is None:
            self.application_error(s, f"the number {number.number} has no Voice URL")
            return
        self.fetch(s, "voice", Hook(number.voice_url, number.voice_method))

    def place(self, account: TwilioAccount, t: TwimlCall) -> Session:
        """A call the Calls resource accepted (engine lock held): queued, with a new sid."""
        s = self.engine._new_session(account, "outbound", caller=t.from_, dest=t.to,
                                     session_id="CA" + secrets.token_hex(16))
        s.front, s.twiml = self, t
        self.queue(s, account)
        return s

    # -- the document, verb by verb ------------------------------------------------------

    def next_verb(self, s: Session) -> None:
        """Run the document's next verb; when none is left the call ends (TWIML.md §3)."""
        t = self.call(s)
        if t.pc >= len(t.document):
            self.engine._end(s, "the TwiML ran out of verbs")
            return
        verb = t.document[t.pc]
        t.pc += 1
        t.verb = verb
        s.log(self.now(), "verb", **describe(verb))
        if s.answered_at is None and not isinstance(verb, (Pause, Reject, Unsupported)):
            self.answer(s)                    # a <Pause> first delays the pickup
        try:
            self._run(s, verb)
        except TwimlError as exc:
            self.fail(s, exc)

    def _run(self, s: Session, verb: Verb) -> None:
        if isinstance(verb, (Say, Play, Pause)):
            self.run_prompt(s, verb)
        elif isinstance(verb, Gather):
            self.run_gather(s, verb)
        elif isinstance(verb, Record):
            self.run_record(s, verb)
        elif isinstance(verb, Dial):
            self.run_dial(s, verb)
        elif isinstance(verb, Redirect):
            self.fetch(s, "redirect", Hook(self.resolve(s, verb.url), verb.method))
        elif isinstance(verb, Reject) and s.answered_at is None:
            self.call(s).end_status = "busy" if verb.reason == "busy" else "no-answer"
            self.engine._end(s, f"the app rejected the call (<Reject reason={verb.reason}>)")
        elif isinstance(verb, (Hangup, Reject)):
            if s.answered_at is None:
                self.answer(s)                # a <Hangup> first still answers the call
            self.engine._end(s, f"the app hung up (<{type(verb).__name__}>)")
        elif isinstance(verb, Unsupported):
            s.log(self.now(), "twiml_error", code=None, reason=verb.reason,
                  url=self.call(s).document_url)
            self.application_error(s, verb.reason)

    # -- the engine's side (calls.Front) ------------------------------------------------

    def keys(self, s: Session, keys: str) -> None:
        verb = self.call(s).verb
        if isinstance(verb, Gather) and s.state in (calls.PLAYING, calls.COLLECTING):
            self.gather_keys(s, keys)
        elif isinstance(verb, Record) and s.state == calls.RECORDING:
            self.record_keys(s, keys)
        elif isinstance(verb, Dial) and s.state == calls.TALKING:
            self.dial_keys(s, keys)
        else:
            s.log(self.now(), "keys_ignored", digits=keys,
                  reason=f"nothing listens for keys while the call is {s.state}")

    def spoke(self, s: Session, heard: Heard | None, heard_for: Any) -> None:
        verb = self.call(s).verb
        if isinstance(verb, Record):
            self.recording_spoke(s)
        elif isinstance(verb, Gather) and verb.hears_speech:
            self.gather_spoke(s, heard, heard_for)

    def hangup(self, s: Session) -> None:
        if s.state in (calls.QUEUED, calls.DIALING):
            # The called phone, ringing, is rejected: the network says busy.
            self.call(s).end_status = "busy"
            self.engine._end(s, "the called phone rejected the call")
        else:
            self.engine._end(s, "the caller hung up")

    def picked_up(self, s: Session, phone: Phone) -> None:
        if s.state == calls.DIALING:
            self.called(s, phone)
        else:
            number = next((t.address for t in self.dial(s).targets
                           if self.engine.directory.phone(t.address).manual),
                          self.dial(s).targets[0].address)
            self.dial_picked_up(s, number, phone)

    def recording_id(self, s: Session) -> tuple[str, str]:
        rec_id = "RE" + secrets.token_hex(16)
        sid = self.call(s).account_sid
        return rec_id, f"{self.engine.base_url()}/2010-04-01/Accounts/{sid}/Recordings/{rec_id}"

    def ending(self, s: Session) -> Any:
        """A recording cut off by the end is kept, for its action (``Digits=hangup``)."""
        t = self.call(s)
        t.fetch = None
        if s.state == calls.RECORDING and isinstance(t.verb, Record):
            return t.verb, self.take(s)
        if t.leg is not None:
            s.log(self.now(), "dial_ended", dest=t.leg.dest, status="completed",
                  reason="the call ended")
        return None

    def ended(self, s: Session, kept: Any, monitored: Recording | None) -> None:
        t = self.call(s)
        t.status = t.end_status or ("completed" if s.answered_at is not None else "no-answer")
        assert t.status in FINAL
        if kept is not None and kept[1] is not None:
            verb, rec = kept
            self.recording_callback(s, verb, rec)
            hook = self.action(s, verb.action, verb.method)
            if hook is not None:
                self.hung_up_request(s, hook, [
                    ("RecordingUrl", rec.url), ("RecordingDuration", str(round(rec.duration))),
                    ("RecordingSid", rec.id), ("Digits", "hangup")], "action")
        self.status_event(s, "completed", monitored)
        t.jar.clear()

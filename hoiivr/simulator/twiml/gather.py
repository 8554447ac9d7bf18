"""``<Gather>``: its nested prompts, then keys until ``numDigits``, ``finishOnKey`` or the
timeout, or the caller's words (TWIML.md §3).

The first key stops the prompt; ``timeout`` starts once the prompt is over and is also the
wait between keys. ``finishOnKey`` ends the Gather only after a digit (alone it is ignored
and the timer keeps running). Keys, or ``actionOnEmptyResult``, request the action (by
default the document itself) with ``Digits`` and ``FinishedOnKey``; no key at all goes on
to the next verb.

With ``input="speech"`` (or ``"dtmf speech"``) the caller's words, typed or recognized from
audio (:mod:`..speech`), stop the prompt too; once the caller has finished, and the
``speechTimeout`` of silence has passed (``auto``: none; unset: ``timeout``), the action
gets ``SpeechResult`` and ``Confidence``. The first answer counts: keys or words that come
after it are ignored (chosen). Speech in which nothing was recognized is no answer: the
Gather goes on listening. ``input="speech"`` takes no keys.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import calls
from ..calls import Session
from ..speech import Heard
from .prompts import Prompting
from .verbs import Gather


class Gathering(Prompting):
    """Runs ``<Gather>``."""

    def gather(self, s: Session) -> Gather:
        verb = self.call(s).verb
        assert isinstance(verb, Gather)
        return verb

    def run_gather(self, s: Session, verb: Gather) -> None:
        self.call(s).digits = ""
        if verb.prompts:
            self.play(s, verb.prompts, "gather", self._listen)
        else:
            self._listen(s)

    def _listen(self, s: Session) -> None:
        s.state = calls.COLLECTING
        self.after(s, "block", self.gather(s).timeout, self._timed_out)

    def _timed_out(self, s: Session) -> None:
        if self.call(s).digits or self.gather(s).action_on_empty_result:
            self._submit(s, "")
        else:
            self.next_verb(s)

    def listening(self, s: Session) -> Gather | None:
        verb = self.call(s).verb
        if isinstance(verb, Gather) and verb.hears_speech and \
                s.state in (calls.PLAYING, calls.COLLECTING):
            return verb
        return None

    def gather_spoke(self, s: Session, heard: Heard | None, heard_for: Any) -> None:
        """The caller speaks to a Gather that listens for words: ``heard`` is what was
        recognized for the Gather ``heard_for``."""
        verb = self.gather(s)
        if s.state not in (calls.PLAYING, calls.COLLECTING):
            s.log(self.now(), "speech_ignored", reason=f"the Gather is {s.state}: it already "
                  "has its answer")
            return
        if heard is None or not heard.text or (heard_for is not None and heard_for is not verb):
            s.log(self.now(), "speech_ignored", reason="no words were recognized"
                  if heard is None or not heard.text else "it was recognized for a Gather "
                  "that has ended")
            return
        self.engine._cut_prompt(s)           # words stop the prompt, as a key does
        s.state = calls.HEARING
        silence = 0.0 if verb.speech_timeout == "auto" else \
            float(verb.speech_timeout or verb.timeout)
        self.after(s, "block", s.speaking_until - self.now() + silence,
                   lambda s: self._submit_speech(s, heard))

    def _submit_speech(self, s: Session, heard: Heard) -> None:
        s.log(self.now(), "heard", text=heard.text, how=heard.how,
              confidence=round(heard.confidence, 3))
        self._request(s, [("SpeechResult", heard.text),
                          ("Confidence", _confidence(heard.confidence))])

    def gather_keys(self, s: Session, keys: str) -> None:
        verb, t = self.gather(s), self.call(s)
        if not verb.takes_keys:
            s.log(self.now(), "keys_ignored", digits=keys, reason="the Gather listens for "
                  "words only (input=speech)")
            return
        digit = False
        for index, key in enumerate(keys):
            if verb.finish_on_key and key == verb.finish_on_key:
                if not t.digits:
                    continue                  # alone it is ignored
                self._answered(s, keys[index + 1:], key)
                return
            t.digits += key
            digit = True
            if verb.num_digits and len(t.digits) >= verb.num_digits:
                self._answered(s, keys[index + 1:], "")
                return
        if s.state == calls.PLAYING or digit:
            self.engine._cut_prompt(s)        # a key stops the prompt ...
            self._listen(s)                   # ... and the timeout restarts from it

    def _answered(self, s: Session, rest: str, finished_on: str) -> None:
        if rest:
            s.log(self.now(), "keys_ignored", digits=rest,
                  reason="the Gather already had its answer")
        self.engine._cut_prompt(s)
        self._submit(s, finished_on)

    def _submit(self, s: Session, finished_on: str) -> None:
        self._request(s, [("Digits", self.call(s).digits), ("FinishedOnKey", finished_on)])

    def _request(self, s: Session, params: Sequence[tuple[str, str]]) -> None:
        """Request the Gather's action with its answer."""
        verb = self.gather(s)
        self.cancel(s, "block")
        hook = self.action(s, verb.action, verb.method)
        if hook is None:
            s.log(self.now(), "twiml_warning", warning="the Gather has no action and its "
                  "document no URL: the answer goes nowhere, the next verb runs")
            self.next_verb(s)
            return
        self.fetch(s, "action", hook, params)


def _confidence(value: float) -> str:
    """As Twilio writes it: a decimal fraction (``0.9128867``; ``1.0``)."""
    return f"{round(value, 7):.7f}".rstrip("0").rstrip(".") if value < 1 else "1.0"

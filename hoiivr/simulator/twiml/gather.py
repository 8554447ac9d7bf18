"""``<Gather>``: its nested prompts, then keys until ``numDigits``, ``finishOnKey`` or the
timeout (TWIML.md §3).

The first key stops the prompt; ``timeout`` starts once the prompt is over and is also the
wait between keys. ``finishOnKey`` ends the Gather only after a digit (alone it is ignored
and the timer keeps running). Keys, or ``actionOnEmptyResult``, request the action (by
default the document itself) with ``Digits`` and ``FinishedOnKey``; no key at all goes on
to the next verb.
"""
from __future__ import annotations

from .. import calls
from ..calls import Session
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

    def gather_keys(self, s: Session, keys: str) -> None:
        verb, t = self.gather(s), self.call(s)
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
        verb, t = self.gather(s), self.call(s)
        self.cancel(s, "block")
        hook = self.action(s, verb.action, verb.method)
        if hook is None:
            s.log(self.now(), "twiml_warning", warning="the Gather has no action and its "
                  "document no URL: the keys go nowhere, the next verb runs")
            self.next_verb(s)
            return
        self.fetch(s, "action", hook, [("Digits", t.digits), ("FinishedOnKey", finished_on)])

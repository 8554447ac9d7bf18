"""Requesting TwiML and running what comes back (TWIML.md §1, §8).

A call that hands control to a URL (its Voice URL, an action, a ``<Redirect>``) waits in
``waiting`` for the answer: nothing plays meanwhile. The answer is followed if it is an
HTTP redirect, run if it is a document (from the next event on: a document that only
redirects to itself makes :meth:`~hoiivr.simulator.Simulator.settle` give up, not hang),
read aloud if it is plain text, played if it is audio. Anything else, or no answer within
15 s, is one of Twilio's errors: the fallback URL is requested if there is one, else the
caller hears Twilio's application-error message and is hung up on. Every request and
error is in the call's timeline, with the TwiML that came back.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from .. import calls
from ..calls import Session
from ..notifier import CALLBACK, WEBHOOK, Delivery, Notice
from ..timing import Prompt
from .callbacks import Callbacks
from .errors import APPLICATION_ERROR, TwimlError
from .state import Fetch, Hook
from .verbs import Document, Hangup, Play, Say, Verb
from .webhooks import TIMEOUT, call_params, read_answer, request

log = logging.getLogger("hoiivr.simulator")

#: How much of an answer's body the timeline keeps.
SHOWN = 8192
#: Documents requested in one instant before the call is taken to loop forever.
BURST = 200


class Fetching(Callbacks):
    """Requests documents and starts running them."""

    def fetch(self, s: Session, purpose: str, hook: Hook,
              params: Sequence[tuple[str, str]] = ()) -> None:
        """Request ``hook`` for the call's next instructions; the call waits for them."""
        t = self.call(s)
        now = self.now()
        t.burst, t.burst_at = (t.burst + 1 if now == t.burst_at else 1), now
        if t.burst > BURST:
            # Each request takes no time on the virtual clock: a document that redirects
            # to itself would never let time move (a simulator's limit, not Twilio's).
            reason = (f"more than {BURST} documents requested without a moment passing; "
                      "does the TwiML redirect to itself with nothing in between?")
            s.log(now, "twiml_error", code=None, reason=reason, url=hook.url)
            self.application_error(s, f"application error: {reason}")
            return
        t.fetch = Fetch(next(t.serials), purpose, hook, tuple(params))
        s.state = calls.WAITING
        self._send(s, t.fetch)

    def _send(self, s: Session, fetch: Fetch) -> None:
        t = self.call(s)
        notice = request(s.id, t, fetch.hook, call_params(s.id, t) + list(fetch.params),
                         self.account(s), serial=fetch.serial, label=fetch.purpose)
        serial = fetch.serial
        self.after(s, "fetch", TIMEOUT[1], lambda s: self._no_answer(s, serial))
        s.undelivered += 1
        assert self.engine.outbox is not None
        self.engine.outbox.submit(notice)

    def _no_answer(self, s: Session, serial: int) -> None:
        t = self.call(s)
        if t.fetch is not None and t.fetch.serial == serial:
            self.fail(s, TwimlError(11205, f"{t.fetch.hook.url} did not answer within "
                                           f"{TIMEOUT[1]:g} s"))

    # -- the engine's side: the timeline, and the answers --------------------------------

    def started(self, s: Session, notice: Notice) -> dict[str, Any]:
        kind = "callback" if notice.kind == CALLBACK else "webhook"
        return s.log(self.now(), kind, purpose=notice.label, method=notice.method,
                     url=notice.url, fields=dict(notice.fields), delivered=False,
                     reply_status=None, latency_ms=None, error=None)

    def delivered(self, s: Session, notice: Notice, entry: dict[str, Any],
                  result: Delivery) -> None:
        entry.update(result.to_json(), delivered=result.status is not None,
                     content_type=result.header("Content-Type"))
        if notice.kind == CALLBACK:
            if result.status is not None and result.status >= 400:
                entry["warning"] = f"15003: the callback was answered HTTP {result.status}"
            return
        entry["twiml"] = result.body[:SHOWN].decode("utf-8", "replace")
        t = self.call(s)
        if not s.ended:
            t.jar.keep(notice.url, result.all("Set-Cookie"))
        fetch = t.fetch
        if s.ended or fetch is None or fetch.serial != notice.serial:
            entry["ignored"] = "the call has ended" if s.ended else \
                "the call no longer waits for this request"
            return
        self.cancel(s, "fetch")
        self._follow(s, fetch, read_answer(fetch, result))

    def _follow(self, s: Session, fetch: Fetch, outcome: Any) -> None:
        if outcome.error is not None:
            self.fail(s, outcome.error)
        elif outcome.redirect is not None:
            fetch.hops += 1
            fetch.hook = outcome.redirect
            fetch.serial = next(self.call(s).serials)
            self._send(s, fetch)
        elif outcome.document is not None:
            self.run(s, outcome.document, fetch.hook.url)
        elif outcome.say is not None:
            self.run(s, Document((Say(outcome.say), Hangup())), fetch.hook.url)
        else:
            self.run(s, Document((Play(outcome.play or ""), Hangup())), fetch.hook.url)

    # -- running a document, and failing ----------------------------------------------

    def run(self, s: Session, document: Document, url: str | None) -> None:
        """Run ``document`` (from ``url``) from its first verb, at the next event."""
        t = self.call(s)
        t.fetch = None
        t.document, t.document_url, t.pc, t.verb = document.verbs, url, 0, None
        for warning in document.warnings:
            s.log(self.now(), "twiml_warning", warning=warning, url=url)
        s.state = calls.WAITING
        self.after(s, "block", 0.0, self.next_verb)

    def fail(self, s: Session, error: TwimlError) -> None:
        """Twilio's ``error`` on the call: the fallback URL, else the application error."""
        t = self.call(s)
        fetch, t.fetch = t.fetch, None
        url = fetch.hook.url if fetch is not None else t.document_url
        s.log(self.now(), "twiml_error", code=error.code, reason=error.reason, url=url)
        log.warning("call %s: error %s: %s", s.id, error.code, error.reason)
        self.cancel(s, "fetch")
        if fetch is not None and fetch.purpose != "fallback" and t.fallback is not None:
            self.fetch(s, "fallback", t.fallback,
                       [("ErrorCode", str(error.code)), ("ErrorUrl", fetch.hook.url)])
            return
        self.application_error(s, f"application error {error.code}: {error.reason}")

    def application_error(self, s: Session, reason: str) -> None:
        """Twilio's message for an application error, then the call ends (TWIML.md §8)."""
        t = self.call(s)
        t.document, t.pc, t.verb = (), 0, None
        if s.answered_at is None:
            self.answer(s)
        timing = self.engine.timing
        prompt = Prompt(APPLICATION_ERROR, round(timing.prompt_padding
                                                 + timing.speech_seconds(APPLICATION_ERROR), 3))
        now = self.now()
        s.heard(now, prompt, block="error")
        s.state, s.prompt_until = calls.PLAYING, now + prompt.seconds
        self.after(s, "block", prompt.seconds, lambda s: self.engine._end(s, reason))

    # -- requests after the end -------------------------------------------------------

    def hung_up_request(self, s: Session, hook: Hook, params: Sequence[tuple[str, str]],
                        purpose: str) -> None:
        """A request the call makes as it ends (a Record's action with ``Digits=hangup``):
        with its cookies, its answer ignored."""
        t = self.call(s)
        notice = request(s.id, t, hook, call_params(s.id, t) + list(params), self.account(s),
                         kind=WEBHOOK, label=purpose)
        s.undelivered += 1
        assert self.engine.outbox is not None
        self.engine.outbox.submit(notice)


def describe(verb: Verb) -> dict[str, Any]:
    """A verb's name and attributes, for the timeline (plain JSON values)."""
    fields = {key: (" ".join(sorted(value)) if isinstance(value, frozenset) else value)
              for key, value in _plain(verb).items()}
    return {"verb": type(verb).__name__, **fields}


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` for verbs, without its deep copy of every leaf: a verb is
    frozen, and its leaves are text, numbers and frozensets."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    return value

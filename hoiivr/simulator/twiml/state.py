"""What a TwiML call carries besides the engine's :class:`~hoiivr.simulator.calls.Session`:
Twilio's view of it (its status, direction, callbacks), the document it runs, the request
it waits for, and its cookies."""
from __future__ import annotations

import email.message
import itertools
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

from .verbs import Gather, Verb

#: The statuses after which a call is over (TWIML.md §4).
FINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass(frozen=True)
class Hook:
    """A URL the call requests, with its method."""

    url: str
    method: str = "POST"


@dataclass
class Fetch:
    """The request whose document the call waits for: ``purpose`` is ``voice``, ``action``,
    ``redirect`` or ``fallback``; ``hops``, the HTTP redirects followed so far."""

    serial: int
    purpose: str
    hook: Hook
    params: tuple[tuple[str, str], ...] = ()
    hops: int = 0


@dataclass
class Leg:
    """The party a ``<Dial>`` rings: its call sid, when it answered, who it was."""

    sid: str
    started: float
    dest: str = ""
    answered_at: float | None = None
    status: str = "ringing"


class Jar:
    """The call's cookies, kept as a browser keeps them (domain, path, expiry): one jar per
    call, sent with its later requests, dropped at its end (TWIML.md §7)."""

    def __init__(self) -> None:
        self._jar = CookieJar()

    def header(self, url: str) -> str | None:
        """The ``Cookie`` header for a request to ``url``, if any cookie applies."""
        if not len(self._jar):          # most calls get none: no request to build
            return None
        request = urllib.request.Request(url)
        self._jar.add_cookie_header(request)
        return request.get_header("Cookie")

    def keep(self, url: str, set_cookies: list[str]) -> None:
        """Keep the ``Set-Cookie`` headers of the answer from ``url``."""
        if set_cookies:
            message = email.message.Message()
            for value in set_cookies:
                message["Set-Cookie"] = value
            # The jar reads nothing of a response but its headers (``info()``).
            self._jar.extract_cookies(_Answer(message),  # type: ignore[arg-type]
                                      urllib.request.Request(url))

    def names(self) -> list[str]:
        return sorted(cookie.name for cookie in self._jar)

    def clear(self) -> None:
        self._jar.clear()


class _Answer:
    """What ``CookieJar.extract_cookies`` reads of a response: its headers."""

    def __init__(self, message: email.message.Message) -> None:
        self.message = message

    def info(self) -> email.message.Message:
        return self.message


@dataclass
class TwimlCall:
    """A call's TwiML side. ``status`` is its ``CallStatus``; ``end_status``, when set,
    the status it ends with (busy, no-answer, failed, canceled) instead of the one its
    course gives it."""

    account_sid: str
    direction: str                        # inbound, outbound-api
    from_: str
    to: str
    status: str
    fallback: Hook | None = None
    status_callback: Hook | None = None
    events: frozenset[str] = frozenset({"completed"})
    #: Where an answered REST call's instructions come from: a URL, or a document given.
    answer_hook: Hook | None = None
    answer_twiml: str | None = None
    timeout: float = 60.0
    time_limit: float | None = None
    record: bool = False
    jar: Jar = field(default_factory=Jar)
    #: ``user:password`` of each host an URL gave them for: the call stays logged in.
    logins: dict[str, str] = field(default_factory=dict)
    document: tuple[Verb, ...] = ()
    document_url: str | None = None
    pc: int = 0                           # the next verb's index
    verb: Verb | None = None              # the verb running
    fetch: Fetch | None = None
    serials: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    sequence: Iterator[int] = field(default_factory=itertools.count)
    end_status: str | None = None
    #: Requests made at the clock reading ``burst_at``, to stop a document that requests
    #: itself forever without a moment passing.
    burst: int = 0
    burst_at: float = -1.0
    digits: str = ""                      # keys a <Gather> collected
    leg: Leg | None = None

    def to_json(self) -> dict[str, Any]:
        return {"account_sid": self.account_sid, "direction": self.direction,
                "status": self.status, "document_url": self.document_url,
                "verb": type(self.verb).__name__ if self.verb is not None else None,
                # The softphone offers words (typed, or the microphone) while it is True.
                "listening": isinstance(self.verb, Gather) and self.verb.hears_speech,
                "waiting_for": self.fetch.hook.url if self.fetch else None,
                "cookies": self.jar.names()}

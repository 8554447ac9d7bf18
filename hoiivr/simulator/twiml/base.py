"""What every part of the TwiML front shares: the engine it drives, and small helpers.

The front runs under the engine's lock, on the engine's clock and states, as
:class:`~hoiivr.simulator.flow.BlockFlow` does for Hoiio's blocks: each step of a verb is
a timer, so a verb's end is always a later event than its start.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from email.utils import format_datetime
from datetime import timezone
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from ...protocol import is_http_url
from ..accounts import TwilioAccount
from ..calls import Session
from .errors import TwimlError
from .state import Hook, TwimlCall

if TYPE_CHECKING:
    from ..engine import Engine

Then = Callable[[Session], None]


class Base:
    """The engine, and the helpers of every verb."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    if TYPE_CHECKING:  # provided by the parts of the front
        def next_verb(self, s: Session) -> None: ...
        def fetch(self, s: Session, purpose: str, hook: Hook,
                  params: Sequence[tuple[str, str]] = ()) -> None: ...
        def fail(self, s: Session, error: TwimlError) -> None: ...
        def status_event(self, s: Session, event: str) -> None: ...
        def callback(self, s: Session, hook: Hook, label: str,
                     params: Sequence[tuple[str, str]]) -> None: ...

    @staticmethod
    def call(s: Session) -> TwimlCall:
        """The call's Twilio side (every session the front sees has one)."""
        assert s.twiml is not None
        return s.twiml

    def account(self, s: Session) -> TwilioAccount:
        account = s.account
        assert isinstance(account, TwilioAccount)
        return account

    def now(self) -> float:
        return self.engine.clock.now()

    def rfc2822(self, moment: float | None = None) -> str:
        """A clock reading as Twilio writes times: ``Wed, 01 Jan 2025 01:00:00 +0000``."""
        return format_datetime(self.engine.clock.wall(moment).astimezone(timezone.utc))

    def after(self, s: Session, name: str, delay: float, action: Then) -> None:
        self.engine._after(s, name, delay, action)

    def cancel(self, s: Session, *names: str) -> None:
        for name in names:
            self.engine._cancel(s, name)

    def answer(self, s: Session) -> None:
        """The call is answered: billed from now, ``in-progress`` from now."""
        self.engine._answer(s)
        self.call(s).status = "in-progress"
        self.status_event(s, "answered")

    def resolve(self, s: Session, url: str) -> str:
        """``url`` made absolute against the document holding it (TWIML.md §3); a relative
        URL in a document with no URL of its own (a ``Twiml`` parameter) is error 11100."""
        base = self.call(s).document_url
        absolute = urljoin(base, url) if base else url
        if not is_http_url(absolute):
            where = f" in the document of {base}" if base else " in a document given as Twiml"
            raise TwimlError(11100, f"{url!r}{where} is not an absolute http(s) URL")
        return absolute

    def action(self, s: Session, action: str | None, method: str) -> Hook | None:
        """Where a verb's result goes: its ``action``, else the document itself; None for
        a document with no URL of its own (the verbs go on)."""
        if action is None:
            url = self.call(s).document_url
            return Hook(url, method) if url else None
        return Hook(self.resolve(s, action), method)

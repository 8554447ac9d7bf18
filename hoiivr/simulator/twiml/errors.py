"""Twilio's errors, as the simulator reports them in a call's timeline (TWIML.md §8)."""
from __future__ import annotations

#: What a caller hears when the app's TwiML cannot be run and there is no fallback URL.
APPLICATION_ERROR = "We're sorry, but an application error has occurred. Goodbye!"


class TwimlError(Exception):
    """Twilio's error ``code`` (11205, 12100, ...) and why it happened."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason

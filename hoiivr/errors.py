"""Every error hoiivr raises, in one tree::

    HoiivrError
     +-- ConfigError            a setting is missing or wrong (says which key to set)
     +-- SetupError             a handler registered too late or twice
     +-- BlockError             a block argument breaks a protocol limit
     +-- CallFlowError          a handler returned blocks in an order Hoiio refuses
     +-- StateError             a value call.state cannot keep (JSON values only)
     +-- NotificationError      a notification body that cannot be parsed
     |    +-- SignatureError    the provider's signature missing or wrong
     |    +-- TokenError        notify-URL token forged, expired or for another call
     |    +-- ReplayedNotification  a genuine body of another step of the call
     +-- ClientError            the provider refused a request or could not be reached
     |    +-- ApiError          Hoiio answered with an ``error_*`` status
     |    |    +-- CallGone     ... saying the call has already ended
     |    +-- NetworkError      connecting failed, or the reply did not come in time
     |    +-- InvalidResponse   the reply was not a JSON object with a status
     +-- StoreError             the call-state store failed
          +-- LockTimeout       another worker held the call's lock for too long
          +-- LeaseLost         the call's lock lapsed while held: nothing was written

Each error carries the data a program needs (``ApiError.status``, ``BlockError.param``)
and a message that says how to fix the problem.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

#: A notify URL's signed token, and a tag's proof of it: cut from messages, which end up in
#: logs and traces (the errors' data keeps them whole).
_SIGNED = re.compile(r"(/notify/)[^/?#\s]+|(\|hv=)\S{10}")


def loggable(text: str) -> str:
    """``text`` safe in a log line: control characters (newlines, terminal escapes) written
    as escapes, so a request's content cannot forge lines or repaint a terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Request parameters as a message shows them: a notify URL's token and a tag's proof
    of it replaced by ``...``."""
    return {k: _SIGNED.sub(lambda m: (m.group(1) or m.group(2)) + "...", v)
            if isinstance(v, str) else v for k, v in params.items()}


def install_hint(extra: str) -> str:
    """The command that installs the optional dependencies ``extra``: from a clone, as
    hoiivr is not published yet (the one place to change when it is)."""
    return f"pip install -e '.[{extra}]' (from a clone of hoiivr)"


class HoiivrError(Exception):
    """The root of every error raised by hoiivr."""


class ConfigError(HoiivrError):
    """A configuration key is missing or has a value hoiivr cannot use."""


class SetupError(HoiivrError):
    """Handlers were registered in a way that cannot work (too late, or twice)."""


class BlockError(HoiivrError, ValueError):
    """A block was given a value outside the protocol's limits.

    ``status`` is the ``error_*`` code Hoiio answers for the same mistake, so the simulator
    can reply exactly as Hoiio would.
    """

    def __init__(self, block: str, param: str, value: Any, allowed: str, status: str) -> None:
        self.block = block
        self.param = param
        self.value = value
        self.allowed = allowed
        self.status = status
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        end = "" if allowed.endswith("?") else "."       # "did you mean ...?" ends it
        super().__init__(f"{block}: {param}={shown} is not allowed; {allowed}{end}")


class CallFlowError(HoiivrError):
    """A handler returned blocks that break the call-flow grammar."""

    def __init__(self, message: str, handler: str = "", block: Any = None) -> None:
        self.handler = handler
        self.block = block
        super().__init__(message)


class StateError(HoiivrError, TypeError):
    """A value ``call.state`` cannot keep: it keeps JSON values only. ``key`` is the key of
    ``call.state`` it was set at, ``value`` the value."""

    def __init__(self, message: str, key: Any = None, value: Any = None) -> None:
        self.key = key
        self.value = value
        super().__init__(message)


class NotificationError(HoiivrError, ValueError):
    """A notification could not be understood."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class SignatureError(NotificationError):
    """The provider's signature (``X-Hoiio-Signature``, ``X-Twilio-Signature``) is missing
    or does not match the request."""


class TokenError(NotificationError):
    """The notify-URL token is forged, expired, or belongs to another call."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        self.reason = reason
        super().__init__(message)


class ReplayedNotification(NotificationError):
    """A genuinely signed body, sent to a notify URL of the call that it was not made for:
    a captured notification replayed to re-run a later step with old input."""


class ClientError(HoiivrError):
    """The REST client did not get a usable answer from Hoiio."""

    def __init__(self, message: str, endpoint: str = "", params: Mapping[str, str] | None = None) -> None:
        self.endpoint = endpoint
        self.params = dict(params or {})
        super().__init__(message)


class ApiError(ClientError):
    """Hoiio replied with an ``error_*`` status."""

    def __init__(self, status: str, endpoint: str, params: Mapping[str, str] | None = None,
                 response: Any = None) -> None:
        self.status = status
        self.response = response
        super().__init__(f"Hoiio refused {endpoint}: {status} "
                         f"(params: {shown_params(params or {})})", endpoint, params)


class CallGone(ApiError):
    """The provider refused a block because the call has already ended: there is nobody
    left to hear an apology."""


class NetworkError(ClientError):
    """Connecting to Hoiio failed or its reply did not arrive within the timeout.

    ``sent`` tells whether the request may have reached Hoiio; such a request is never
    sent again automatically.
    """

    def __init__(self, message: str, endpoint: str = "", params: Mapping[str, str] | None = None,
                 sent: bool = False) -> None:
        self.sent = sent
        super().__init__(message, endpoint, params)


class InvalidResponse(ClientError):
    """Hoiio's reply was not a JSON object with a ``status``."""


class StoreError(HoiivrError):
    """The call-state store failed or was misconfigured."""


class LockTimeout(StoreError):
    """A call's lock could not be acquired in time (another worker is still on it)."""

    def __init__(self, key: str, waited: float) -> None:
        self.key = key
        self.waited = waited
        super().__init__(f"call {key!r} stayed locked for {waited:.1f}s; another worker is "
                         "still handling a notification of this call")


class LeaseLost(StoreError):
    """A write under a call's lease found the lease lapsed (its holder took longer than the
    lease), so another worker may have taken the call over: nothing was written."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"call {key!r}: the lease lapsed before this write, so another "
                         "worker may have taken the call over; nothing was written")

"""What a failed ``requests`` call tells: why, and whether the request may have been sent;
when a refusal as busy may be sent again (:func:`retry_after`); and what a carrier's client
needs of an HTTP session (:class:`HttpSession`).

Providers without an idempotency key (Hoiio's REST API, Twilio's Calls) must never get a
request twice, so a failed one is re-sent by nobody, and reported as sent unless it provably
was not: the connection was never made. A refusal as busy was not carried out.
"""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Protocol

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError


def was_sent(exc: requests.RequestException) -> bool:
    """False only when the connection was never made, so nothing reached the provider."""
    return not (isinstance(exc, requests.ConnectTimeout)
                or isinstance(failure_reason(exc), NewConnectionError))


def failure_reason(exc: requests.RequestException) -> BaseException:
    # requests wraps urllib3's MaxRetryError (whose reason says what failed) or ProtocolError.
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    if isinstance(cause, MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    if isinstance(cause, ProtocolError) and len(cause.args) > 1 \
            and isinstance(cause.args[1], BaseException):
        cause = cause.args[1]
    return cause


#: The longest Retry-After honoured by waiting: a caller hears nothing meanwhile.
MAX_RETRY_AFTER = 3.0
#: HTTP statuses of a refusal as busy (too many requests; unavailable).
BUSY = frozenset({429, 503})


def retry_after(status: int, header: str | None) -> float | None:
    """Seconds to wait before sending again a request refused as busy (HTTP ``status`` 429
    or 503, with a ``Retry-After`` ``header`` in seconds or as an HTTP date); None: not to
    send it again, as it was no such refusal, or the wait is longer than a caller can be
    kept waiting."""
    if status not in BUSY:
        return None
    text = (header or "").strip()
    if text.isascii() and text.isdigit():
        wait = float(text)
    else:
        try:
            wait = parsedate_to_datetime(text).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(0.0, wait) if wait <= MAX_RETRY_AFTER else None


class HttpReply(Protocol):
    """What a client reads of a reply: a ``requests.Response`` has it, and so has
    ``hoiivr.simulator.WSGIResponse``."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


class HttpSession(Protocol):
    """What a client asks of a session given to it: a ``requests.Session``, or
    ``hoiivr.simulator.WSGISession``, which calls an in-process WSGI app directly.
    Failures are ``requests.RequestException`` either way."""

    def request(self, method: str, url: str, params: Mapping[str, Any] | None = None,
                data: Mapping[str, Any] | bytes | None = None,
                headers: Mapping[str, str] | None = None, *,
                timeout: float | tuple[float, float] | None = None,
                allow_redirects: bool = True) -> HttpReply: ...

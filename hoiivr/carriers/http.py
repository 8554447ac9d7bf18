"""What a failed ``requests`` call tells: why, and whether the request may have been sent.

Providers without an idempotency key (Hoiio's REST API, Twilio's Calls) must never get a
request twice, so a failed one is re-sent by nobody, and reported as sent unless it provably
was not: the connection was never made.
"""
from __future__ import annotations

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

"""Twilio REST requests refused as busy, sent again after a short wait.

Twilio answers HTTP 429 (error 20429) when an account has too many REST requests in flight,
and says such a request "is never processed and is always safe to retry" after backing off
(twilio.com/docs/api/errors/20429). Every other failure is left alone: a Calls request has no
idempotency key, so one that may have been carried out is never sent twice.
"""
from __future__ import annotations

import random
import time
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response

from ..http import BUSY, retry_after

#: The first backoff when a 429 says no Retry-After, in seconds; it doubles, with jitter.
BACKOFF = 0.25


class BusyRetry(HttpClient):  # type: ignore[misc]   # twilio is not typed
    """Sends requests through ``inner`` (any twilio ``HttpClient``), and a request refused
    as busy again, :attr:`retries` times at most: a 429 after its ``Retry-After`` (at most
    3 s) or a jittered backoff, a 503 only after its ``Retry-After``."""

    retries = 2

    def __init__(self, inner: HttpClient) -> None:
        super().__init__(inner.logger, False, inner.timeout)
        self.inner = inner

    @property
    def session(self) -> Any:
        """The inner client's requests Session, if it has one (to close it)."""
        return getattr(self.inner, "session", None)

    def request(self, method: str, uri: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        def send() -> Response:
            return self.inner.request(method, uri, params=params, data=data, headers=headers,
                                      auth=auth, timeout=timeout,
                                      allow_redirects=allow_redirects)

        reply = send()
        for attempt in range(self.retries):
            wait = busy_wait(reply, attempt)
            if wait is None:
                break
            time.sleep(wait)
            reply = send()
        return reply


def busy_wait(reply: Response, attempt: int) -> float | None:
    """Seconds to wait before sending again the request ``reply`` refused as busy; None:
    not to send it again."""
    status = int(reply.status_code)
    if status not in BUSY:
        return None
    header = _header(reply.headers or {}, "Retry-After")
    if status == 429 and not header:
        return BACKOFF * 2.0 ** attempt * random.uniform(0.5, 1.0)
    return retry_after(status, header)


def _header(headers: Any, name: str) -> str:
    """A header's value whatever the mapping's case rules (requests', Werkzeug's, a dict)."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return str(value or "")

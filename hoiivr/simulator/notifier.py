"""Notifications: built exactly as the protocol says, signed, and delivered one at a time.

A :class:`Notice` is the form body of one notification (its own fields, then the
pass-on parameters of the notify URL's query string, which also stay in the URL), signed
with ``X-Hoiio-Signature``. A TwiML number's webhooks are notices too, of another
``kind``, carrying their own method and headers; their answer (status, headers and body,
the TwiML) comes back in the :class:`Delivery`. Outboxes deliver notices without ever
holding the engine's lock, so the app may call the REST API from inside its handler:

- :class:`InlineOutbox` (virtual clock) delivers in the thread that moves the clock, in
  order, never recursively: a notice queued while another is being delivered waits its turn.
- :class:`PooledOutbox` (real clock) delivers on a few worker threads, one notice at a time
  per call; different calls are delivered concurrently.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

import requests
from urllib3 import PoolManager, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, NewConnectionError,
                                ProtocolError, ReadTimeoutError)

from ..carriers.hoiio.client import ca_bundle
from ..carriers.hoiio.notifications import SIGNATURE_HEADER, compute_signature
from .transport import WSGISession, form_encode

log = logging.getLogger("hoiivr.simulator")

TIMEOUT = (3.05, 10.0)
#: The kinds of notice: Hoiio's notifications; TwiML requests whose answer the call waits
#: for (a document); and callbacks, whose answer changes nothing.
NOTIFICATION, WEBHOOK, CALLBACK = "notification", "webhook", "callback"
#: The most of a webhook's answer that is read; more is cut off (the front refuses it).
ANSWER_LIMIT = 1024 * 1024
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Notice:
    """One notification (or webhook), ready to send.

    A Hoiio notification has no ``headers`` of its own (its are fixed: the form's type and
    ``signature``); a webhook carries every header it sends, its ``method``, the
    ``serial`` by which its call recognises the answer, and its own ``timeout``.
    """

    session: str
    url: str
    fields: tuple[tuple[str, str], ...]
    body: bytes
    signature: str
    method: str = "POST"
    headers: Headers = ()
    kind: str = NOTIFICATION
    serial: int = 0
    timeout: tuple[float, float] | None = None
    #: What the request is for, as the call's timeline names it (``voice``, ``action``...).
    label: str = ""

    @property
    def form(self) -> dict[str, str]:
        return dict(self.fields)

    def field(self, name: str) -> str:
        return next((v for k, v in self.fields if k == name), "")


def make_notice(session: str, url: str, own: list[tuple[str, str]], token: str) -> Notice:
    """Sign ``own`` fields plus the URL's pass-on parameters (own fields win a clash)."""
    names = {name for name, _ in own}
    passed = [(k, v) for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
              if k not in names]
    pairs = tuple(own) + tuple(passed)
    body = form_encode(pairs).encode("ascii")
    return Notice(session, url, pairs, body, compute_signature(body, token))


@dataclass(frozen=True)
class Delivery:
    """How one delivery went: HTTP status (None if no reply), time taken, error if any;
    for a webhook also the answer's ``body`` (at most :data:`ANSWER_LIMIT` + 1 bytes) and
    ``headers`` (a repeated one, such as ``Set-Cookie``, once per value)."""

    status: int | None
    seconds: float
    error: str | None = None
    body: bytes = b""
    headers: Headers = ()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"reply_status": self.status, "latency_ms": round(self.seconds * 1000, 1),
                "error": self.error}


class _IdleLimited:
    """A pooled connection that counts as dropped once it has been idle ``idle_limit`` s.

    Servers close keep-alive connections left idle (gunicorn after 2 s); a notification
    sent on one at the moment the server closes it is reset, and notifications are never
    sent twice. Giving up idle connections before any server does closes that window: the
    usual rule, a client's idle timeout shorter than the server's keep-alive.
    """

    idle_limit = 1.0
    _last_used = 0.0

    @property
    def is_connected(self) -> bool:
        if time.monotonic() - self._last_used > self.idle_limit:
            return False
        return bool(super().is_connected)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        self._last_used = time.monotonic()
        return response


class _Connection(_IdleLimited, HTTPConnection):
    pass


class _TLSConnection(_IdleLimited, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class Deliverer:
    """POSTs notices through a requests Session: one given to the simulator (``http=``),
    typically with a :class:`~hoiivr.simulator.WSGIAdapter` mounted for an in-process app."""

    def __init__(self, http: requests.Session, timeout: tuple[float, float] = TIMEOUT) -> None:
        self.http = http
        self.timeout = timeout

    def __call__(self, notice: Notice) -> Delivery:
        began = time.monotonic()
        if notice.kind != NOTIFICATION:
            return self._request(notice, began)
        try:
            with self.http.post(notice.url, data=notice.body, headers=_headers(notice),
                                timeout=self.timeout, allow_redirects=False) as reply:
                status = reply.status_code
        except requests.RequestException as exc:
            return _failed(notice, began, f"{type(exc).__name__}: {exc}")
        return _answered(notice, began, status)

    def _request(self, notice: Notice, began: float) -> Delivery:
        # Prepared apart from the Session, so that no cookie the Session may have kept
        # from another call goes out with this one: a call's cookies are its own.
        prepared = requests.Request(notice.method, notice.url, data=notice.body or None,
                                    headers=dict(notice.headers)).prepare()
        try:
            with self.http.send(prepared, stream=True, allow_redirects=False,
                                timeout=notice.timeout or self.timeout) as reply:
                body = _capped(reply.iter_content(64 * 1024))
                raw = getattr(reply.raw, "headers", None)
                headers = tuple(raw.items()) if raw is not None else \
                    tuple(reply.headers.items())
                status = reply.status_code
        except requests.RequestException as exc:
            return _failed(notice, began, f"{type(exc).__name__}: {exc}")
        return _answered(notice, began, status, body, headers)

    def close(self) -> None:
        """The Session is the caller's: it stays open."""


class WSGIDeliverer:
    """Delivers notices to an in-process app through a :class:`~hoiivr.simulator.WSGISession`:
    the app is called directly, with no requests machinery in between (most of a
    notification's cost when the app answers in microseconds). What the app answers, or
    raises, is reported as :class:`Deliverer` reports it."""

    def __init__(self, http: WSGISession) -> None:
        self.http = http

    def __call__(self, notice: Notice) -> Delivery:
        began = time.monotonic()
        notification = notice.kind == NOTIFICATION
        headers = _headers(notice).items() if notification else notice.headers
        try:
            reply = self.http.send(notice.method, notice.url, notice.body, headers)
        except requests.RequestException as exc:
            return _failed(notice, began, f"{type(exc).__name__}: {exc}")
        if notification:
            return _answered(notice, began, reply.status_code)
        return _answered(notice, began, reply.status_code, reply.content[:ANSWER_LIMIT + 1],
                         tuple(reply.header_list))

    def close(self) -> None:
        """The session is the caller's: it stays open."""


class PoolDeliverer:
    """POSTs notices over real HTTP on the simulator's own pooled keep-alive connections.

    urllib3 directly, without requests on top: requests' preparing (which reads the whole
    environment for proxies on every call) and response building took 0.8 ms of a 5.4 ms
    notification on the project's machine. ``workers`` connections are kept per app host;
    a notification is never retried.
    """

    def __init__(self, workers: int, timeout: tuple[float, float] = TIMEOUT) -> None:
        # The CA bundle requests would use, so that an https app verifies as it did.
        self.pools = PoolManager(num_pools=16, maxsize=workers, retries=False,
                                 timeout=Timeout(connect=timeout[0], read=timeout[1]),
                                 ca_certs=ca_bundle())
        self.pools.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
        self.timeout = timeout

    def __call__(self, notice: Notice) -> Delivery:
        began = time.monotonic()
        if notice.kind != NOTIFICATION:
            return self._request(notice, began)
        try:
            reply = self.pools.request("POST", notice.url, body=notice.body,
                                       headers=_headers(notice), redirect=False)
        except (HTTPError, ValueError) as exc:
            return _failed(notice, began, self._describe(exc, notice.url))
        return _answered(notice, began, reply.status)

    def _request(self, notice: Notice, began: float) -> Delivery:
        timeout = Timeout(*notice.timeout) if notice.timeout else None
        try:
            reply = self.pools.request(notice.method, notice.url, body=notice.body or None,
                                       headers=dict(notice.headers), redirect=False,
                                       preload_content=False, timeout=timeout)
            body = b""
            try:
                body = reply.read(ANSWER_LIMIT + 1)
            finally:
                if len(body) > ANSWER_LIMIT:
                    reply.close()            # not read to its end: the connection goes
                reply.release_conn()
        except (HTTPError, ValueError) as exc:
            return _failed(notice, began, self._describe(exc, notice.url))
        return _answered(notice, began, reply.status, body, tuple(reply.headers.items()))

    def _describe(self, exc: Exception, url: str) -> str:
        """What went wrong, named as requests names it (ConnectionError, ReadTimeout)."""
        where = urlsplit(url).netloc
        if isinstance(exc, NewConnectionError):     # before ConnectTimeoutError: a subclass
            reason = getattr(exc.__cause__ or exc.__context__, "strerror", None) or exc
            return f"ConnectionError: cannot connect to {where} ({reason}); is the app running?"
        if isinstance(exc, ConnectTimeoutError):
            return f"ConnectTimeout: {where} did not accept the connection within " \
                   f"{self.timeout[0]:g} s"
        if isinstance(exc, ReadTimeoutError):
            return f"ReadTimeout: {where} did not answer within {self.timeout[1]:g} s"
        if isinstance(exc, ProtocolError):
            return f"ConnectionError: {where} closed the connection without an answer ({exc})"
        return f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self.pools.clear()


def _headers(notice: Notice) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded",
            SIGNATURE_HEADER: notice.signature, "User-Agent": "hoiivr-simulator"}


def _capped(chunks: Iterator[bytes]) -> bytes:
    """A body read up to :data:`ANSWER_LIMIT` + 1 bytes, the rest left unread."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > ANSWER_LIMIT:
            break
    return bytes(body[:ANSWER_LIMIT + 1])


def _answered(notice: Notice, began: float, status: int, body: bytes = b"",
              headers: Headers = ()) -> Delivery:
    # A webhook's status is for the TwiML front to judge (a redirect, an error page).
    error = None if status == 200 or notice.kind != NOTIFICATION else \
        f"the app answered HTTP {status}; it must answer 200"
    return _report(notice, Delivery(status, time.monotonic() - began, error, body, headers))


def _failed(notice: Notice, began: float, error: str) -> Delivery:
    return _report(notice, Delivery(None, time.monotonic() - began, error))


def _report(notice: Notice, delivery: Delivery) -> Delivery:
    outcome = str(delivery.status) if delivery.ok else \
        f"FAILED, not retried ({delivery.error})"
    what = f"{notice.field('ivr_block')}/{notice.field('call_state')}" \
        if notice.kind == NOTIFICATION else f"{notice.method} CallStatus=" \
        f"{notice.field('CallStatus')}"
    log.log(logging.INFO if delivery.ok else logging.WARNING,
            "notify %s %s -> %s: %s in %.0f ms", notice.session, what, notice.url, outcome,
            delivery.seconds * 1000)
    return delivery


Started = Callable[[Notice], Any]
Finished = Callable[[Notice, Any, Delivery], None]


class Outbox:
    """Queues notices and delivers them; ``started``/``finished`` keep the call's timeline."""

    def __init__(self, deliver: Callable[[Notice], Delivery], started: Started,
                 finished: Finished) -> None:
        self.deliver = deliver
        self.started = started
        self.finished = finished

    def submit(self, notice: Notice) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop delivering; waits for deliveries in progress."""

    def _send(self, notice: Notice) -> None:
        token = self.started(notice)
        try:
            delivery = self.deliver(notice)
        except Exception as exc:  # an in-process app that raised: a failed delivery
            log.exception("notify %s -> %s raised", notice.session, notice.url)
            delivery = Delivery(None, 0.0, f"{type(exc).__name__}: {exc}")
        self.finished(notice, token, delivery)


class InlineOutbox(Outbox):
    """Delivers queued notices in the thread that calls :meth:`flush`, in order."""

    def __init__(self, deliver: Callable[[Notice], Delivery], started: Started,
                 finished: Finished) -> None:
        super().__init__(deliver, started, finished)
        self._queue: deque[Notice] = deque()
        self._lock = threading.Lock()
        self._flushing = False

    def submit(self, notice: Notice) -> None:
        with self._lock:
            self._queue.append(notice)

    def flush(self) -> None:
        """Deliver everything queued, including what those deliveries queue."""
        with self._lock:
            if self._flushing:          # a handler caused this: the outer flush continues
                return
            self._flushing = True
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        return
                    notice = self._queue.popleft()
                self._send(notice)
        finally:
            with self._lock:
                self._flushing = False

    def close(self) -> None:
        with self._lock:
            self._queue.clear()


class PooledOutbox(Outbox):
    """Delivers on a small thread pool, one notice at a time per session."""

    def __init__(self, deliver: Callable[[Notice], Delivery], started: Started,
                 finished: Finished, workers: int = 4) -> None:
        super().__init__(deliver, started, finished)
        self._queues: dict[str, deque[Notice]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=workers,
                                        thread_name_prefix="hoiivr-sim-notify")

    def submit(self, notice: Notice) -> None:
        with self._lock:
            if self._closed:
                return
            queue = self._queues.get(notice.session)
            if queue is not None:       # a worker is on this session; it will get to it
                queue.append(notice)
                return
            self._queues[notice.session] = deque([notice])
        try:
            self._pool.submit(self._drain, notice.session)
        except RuntimeError:            # closed meanwhile: the notice is dropped, as on close
            log.info("notify %s dropped: the simulator is closing", notice.session)

    def _drain(self, session: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[session]
                if not queue or self._closed:
                    del self._queues[session]
                    return
                notice = queue.popleft()
            self._send(notice)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)

"""The Hoiio REST client.

:class:`HoiioClient` sends one request per call and never sends one twice: Hoiio has no
idempotency key, so a request that may have reached it (a read timeout, a dropped
connection) is reported as :class:`NetworkError` with ``sent=True`` instead of being
re-sent, which would make the caller hear a prompt twice or be transferred twice. Only
failures to connect (nothing was sent) are retried, with jittered backoff. A redirect is
not followed: that too would send the request again.

Each request borrows a pooled ``requests.Session`` that no other thread uses meanwhile (a
shared Session is not promised to be thread-safe), and has a finite (connect, read)
timeout.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any, Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from ... import blocks
from ...errors import ApiError, BlockError, CallGone, ClientError, InvalidResponse, NetworkError
from ...protocol import DEFAULT_API_URL, is_http_url
from ..http import BUSY, HttpReply, HttpSession, failure_reason, retry_after, was_sent

MASK = "********"
#: Statuses that mean the call is gone: there is nobody left to apologise to.
CALL_GONE = frozenset({"error_session_ended", "error_invalid_session"})


def ca_bundle() -> str:
    """The CA bundle requests verifies with: ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, or
    certifi's."""
    return (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            or requests.utils.DEFAULT_CA_BUNDLE_PATH)


def mask(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the access token hidden, for errors and logs."""
    return {k: (MASK if k == "access_token" else v) for k, v in params.items()}


class Response:
    """Hoiio's reply to one request. Reply fields read as attributes: ``res.txn_ref``."""

    def __init__(self, endpoint: str, params: Mapping[str, Any], data: dict[str, Any],
                 response: HttpReply | None = None) -> None:
        self.endpoint = endpoint
        self._sent = params
        self.json = data
        self.response = response

    @property
    def params(self) -> dict[str, Any]:
        """What was sent, the access token masked (made when asked: most replies are only
        checked for success)."""
        return mask(self._sent)

    @property
    def status(self) -> str:
        return str(self.json.get("status", ""))

    @property
    def text(self) -> str:
        return self.response.text if self.response is not None else ""

    def is_success(self) -> bool:
        return self.status == "success_ok"

    def raise_for_status(self) -> Response:
        """Return ``self`` on success, else raise :class:`ApiError` (:class:`CallGone` when
        the call has already ended)."""
        if not self.is_success():
            error = CallGone if self.status in CALL_GONE else ApiError
            raise error(self.status, self.endpoint, self.params, response=self)
        return self

    def get(self, name: str, default: Any = None) -> Any:
        return self.json.get(name, default)

    def __getattr__(self, name: str) -> Any:
        # Reply fields as attributes, as the old SDKs offered; absent ones read as None.
        if name.startswith("_"):
            raise AttributeError(name)
        return self.json.get(name)

    def __repr__(self) -> str:
        return f"<Response {self.endpoint} {self.status}>"


class HoiioClient:
    """Sends requests to Hoiio's REST API (or to a simulator at ``base_url``).

    ``base_url`` defaults to the ``HOIIO_API_URL`` environment variable, then to Hoiio's
    own. Pass ``session`` to use one session for every thread: a requests Session (for
    example one with a test adapter mounted), or any :class:`~hoiivr.carriers.http.HttpSession`
    such as ``hoiivr.simulator.WSGISession``.
    """

    timeout: tuple[float, float] = (3.05, 10.0)
    connect_retries: int = 2
    #: Times a request refused as busy (429, 503) is sent again after its Retry-After.
    busy_retries: int = 2
    method: str = "POST"
    #: Idle sessions kept for reuse, at least: as many are kept as were ever in use at once
    #: (a server's threads), up to :attr:`max_pool`.
    max_idle: int = 16
    max_pool: int = 256

    def __init__(self, app_id: str, access_token: str, base_url: str | None = None,
                 session: HttpSession | None = None,
                 timeout: float | tuple[float, float] | None = None,
                 method: str | None = None) -> None:
        base = base_url or os.environ.get("HOIIO_API_URL") or DEFAULT_API_URL
        self.base_url = base if base.endswith("/") else base + "/"
        self.app_id = app_id
        self.access_token = access_token
        if timeout is not None:
            self.timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if method is not None:
            self.method = method.upper()
        self._shared = session
        self._idle: list[requests.Session] = []
        self._lent = self._peak = 0
        self._lock = threading.Lock()

    # -- transport -------------------------------------------------------------------------

    def _borrow(self) -> requests.Session:
        """A pooled session for one request, used by no other thread until it is given
        back (:meth:`_give_back`).

        Sessions are lent from a pool rather than kept per thread: a threaded dev server
        starts a thread per request, and a per-thread session would open a new connection
        (and TLS handshake) for every notification.
        """
        with self._lock:
            http = self._idle.pop() if self._idle else None
            self._lent += 1
            self._peak = max(self._peak, self._lent)
        return http or self._new_session()

    def _give_back(self, http: requests.Session) -> None:
        with self._lock:
            self._lent -= 1
            # Sized to the threads: a pool smaller than the requests made at once would
            # open (and handshake) a connection for each request past its size.
            keep = len(self._idle) < min(max(self.max_idle, self._peak), self.max_pool)
            if keep:
                self._idle.append(http)
        if not keep:
            http.close()

    def _new_session(self) -> requests.Session:
        # Retry counts only errors raised before the request was sent.
        retry = Retry(total=None, connect=self.connect_retries, read=0, redirect=0, status=0,
                      other=0, backoff_factor=0.05, backoff_jitter=0.05)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=1)
        http = requests.Session()
        # Proxies and CA bundle are read from the environment once, not on every request
        # (requests would re-read them, and .netrc, each time: ~0.1 ms per call).
        http.trust_env = False
        http.proxies = requests.utils.get_environ_proxies(self.base_url)
        http.verify = ca_bundle()
        http.mount("http://", adapter)
        http.mount("https://", adapter)
        http.headers["User-Agent"] = "hoiivr"
        return http

    def close(self) -> None:
        """Close the pooled connections (a session you passed in stays open)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for http in idle:
            http.close()

    def request(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Response:
        """Send ``params`` (``None`` values dropped) to ``endpoint``; return the reply.

        Raises :class:`NetworkError` or :class:`InvalidResponse`; an ``error_*`` status is
        returned, not raised (see :meth:`Response.raise_for_status`).
        """
        fields = {"app_id": self.app_id, "access_token": self.access_token}
        fields.update({k: str(v) for k, v in (params or {}).items() if v is not None})
        url = self.base_url + endpoint
        if self._shared is not None:
            return self._exchange(self._shared, endpoint, url, fields)
        http = self._borrow()
        try:
            return self._exchange(http, endpoint, url, fields)
        finally:
            self._give_back(http)

    def _exchange(self, http: HttpSession, endpoint: str, url: str,
                  fields: dict[str, str]) -> Response:
        try:
            reply = self._send(http, url, fields)
            for _ in range(self.busy_retries):
                if reply.status_code not in BUSY:        # the headers only when needed
                    break
                # Refused, so not carried out: sent again once the reply says, if soon.
                wait = retry_after(reply.status_code, reply.headers.get("Retry-After"))
                if wait is None:
                    break
                time.sleep(wait)
                reply = self._send(http, url, fields)
        except requests.RequestException as exc:
            raise _network_error(exc, endpoint, fields, self.timeout) from exc
        return Response(endpoint, fields, _decode(reply, endpoint, fields), reply)

    def _send(self, http: HttpSession, url: str, fields: dict[str, str]) -> HttpReply:
        """Send ``fields`` with ``http``; redirects are not followed (Hoiio sends none)."""
        get = self.method == "GET"
        params, data = (fields, None) if get else (None, fields)
        if http is self._shared or not isinstance(http, requests.Session):
            return http.request(self.method, url, params=params, data=data,
                                timeout=self.timeout, allow_redirects=False)
        # A session of our own holds only headers, proxies and verify (no cookies, auth,
        # hooks or params to merge), so its request is prepared directly: Session.request
        # would merge all of them again on every call, ~40 us.
        request = requests.Request(self.method, url, headers=http.headers, params=params,
                                   data=data).prepare()
        return http.send(request, timeout=self.timeout, allow_redirects=False)

    # -- the IVR -----------------------------------------------------------------------------

    def send(self, block: blocks.Block, session: str | None = None,
             notify_url: str | None = None) -> Response:
        """Send one block. ``session`` is required for every block but :class:`Dial`."""
        if block.kind != "dial" and not session:
            raise ClientError(f"{type(block).__name__} needs the call's session",
                              block.endpoint)
        if block.notify_required and not notify_url:
            raise ClientError(f"{type(block).__name__} needs a notify_url: Hoiio reports its "
                              "result there", block.endpoint)
        if notify_url is not None and not is_http_url(notify_url):
            raise BlockError(type(block).__name__, "notify_url", notify_url, "it must be an "
                             "absolute http(s) URL of at most 4000 characters",
                             "error_invalid_notify_url")
        params: dict[str, Any] = block.to_params()
        params["session"] = session
        params["notify_url"] = notify_url
        return self.request(block.endpoint, params)

    def dial(self, dest: str, **options: Any) -> Response:
        """Call ``dest``. Options: msg, caller_id, max_duration, tag, notify_url."""
        return self._block(blocks.Dial, None, dest=dest, **options)

    def play(self, session: str, msg: str | None = None, **options: Any) -> Response:
        return self._block(blocks.Play, session, msg=msg, **options)

    def gather(self, session: str, msg: str | None = None, **options: Any) -> Response:
        """Options: max_digits, timeout, attempts, tag, notify_url (required)."""
        return self._block(blocks.Gather, session, msg=msg, **options)

    def record(self, session: str, msg: str | None = None, **options: Any) -> Response:
        """Options: max_duration, tag, notify_url (required)."""
        return self._block(blocks.Record, session, msg=msg, **options)

    def monitor(self, session: str, msg: str | None = None, **options: Any) -> Response:
        """Options: monitor_notify_url, tag, notify_url (required)."""
        return self._block(blocks.Monitor, session, msg=msg, **options)

    def hold(self, session: str, msg: str | None = None, **options: Any) -> Response:
        return self._block(blocks.Hold, session, msg=msg, **options)

    def unhold(self, session: str, **options: Any) -> Response:
        return self._block(blocks.Unhold, session, **options)

    def transfer(self, session: str, dest: str, **options: Any) -> Response:
        """Options: msg, caller_id, on_failure ('hangup' or 'continue'), tag, notify_url."""
        return self._block(blocks.Transfer, session, dest=dest, **options)

    def hangup(self, session: str, msg: str | None = None, **options: Any) -> Response:
        """Options: force (True: hang up now, silently), tag, notify_url."""
        return self._block(blocks.Hangup, session, msg=msg, **options)

    def _block(self, cls: type[blocks.Block], session: str | None, *,
               notify_url: str | None = None, **fields: Any) -> Response:
        # Built through from_params so that '60' and 60 are both accepted, as the old SDKs did.
        # from_params ignores unknown names, so a misspelt option must be refused here.
        known = {f.name for f in dataclasses.fields(cls) if "wire" in f.metadata}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise TypeError(f"{cls.__name__} got an unexpected option {unknown[0]!r}; it takes "
                            f"{', '.join(sorted(known | {'notify_url'}))}")
        wire = {k: _to_wire(v) for k, v in fields.items() if v is not None}
        return self.send(cls.from_params(wire), session=session, notify_url=notify_url)

    # -- numbers, calls, account -------------------------------------------------------------

    def update_forwarding(self, number: str, forward_to: str, mode: str = "voice") -> Response:
        """Make incoming calls to the Hoiio Number ``number`` notify ``forward_to``."""
        return self.request("number/update_forwarding",
                            {"number": number, "forward_to": forward_to, "mode": mode})

    def get_active_numbers(self) -> Response:
        return self.request("number/get_active")

    def query_status(self, txn_ref: str) -> Response:
        return self.request("voice/query_status", {"txn_ref": txn_ref})

    def get_balance(self) -> Response:
        return self.request("user/get_balance")


def _to_wire(value: Any) -> str:
    if value is True:
        return "enabled"
    if value is False:
        return ""
    return str(value)


def _decode(reply: HttpReply, endpoint: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or "status" not in data:
        raise InvalidResponse(f"{endpoint} answered HTTP {reply.status_code} with "
                              f"{reply.text[:120]!r}, not a JSON object with a status; is "
                              "HOIIO_API_URL the Hoiio API's base URL?", endpoint, mask(fields))
    return data


def _network_error(exc: requests.RequestException, endpoint: str, fields: Mapping[str, Any],
                   timeout: tuple[float, float]) -> NetworkError:
    # The message names only the exception class: requests' own text carries the URL, which
    # holds the access token when the method is GET.
    params = mask(fields)
    reason = failure_reason(exc)
    if not was_sent(exc):
        return NetworkError(f"could not connect to Hoiio for {endpoint} "
                            f"({type(reason).__name__}); check HOIIO_API_URL and the network",
                            endpoint, params, sent=False)
    if isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        return NetworkError(f"Hoiio did not answer {endpoint} within {timeout[1]}s; the request "
                            "may have been carried out, so it is not sent again",
                            endpoint, params, sent=True)
    return NetworkError(f"the connection to Hoiio broke during {endpoint} "
                        f"({type(reason).__name__}); the request may have been carried out, "
                        "so it is not sent again", endpoint, params, sent=True)

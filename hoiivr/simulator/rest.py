"""Hoiio's REST API, ``/open/<endpoint>``, answered exactly as the protocol says.

A request is checked in the protocol's order: ``app_id`` and ``access_token`` present, then
valid, then the endpoint's required parameters present (``error_<name>_param_missing``),
then each value (the checks of :mod:`hoiivr.blocks`, shared with the client), then the
session's state, then the account's limits. Every reply is HTTP 200 with a JSON object of
strings; an unknown endpoint is HTTP 404; a body that is not valid form data, or is over
:data:`MAX_BODY`, is ``error_malformed_params`` (protocol §1: every reply has a status).
Nothing is a 500.
"""
from __future__ import annotations

import functools
import hmac
import io
import logging
import re
import threading
import time
from collections import deque
from datetime import timedelta
from typing import Any, Callable, Mapping
from urllib.parse import unquote_to_bytes

from werkzeug.formparser import parse_form_data

from ..blocks import BY_ENDPOINT, Dial
from ..carriers.hoiio.client import mask
from ..errors import BlockError
from ..protocol import is_http_url
from .accounts import Account, Directory, money
from .engine import Engine, Reply, status

log = logging.getLogger("hoiivr.simulator")

MAX_BODY = 64 * 1024
METHODS = ("GET", "POST")
OTHER_ENDPOINTS = ("number/update_forwarding", "number/get_active", "voice/query_status",
                   "user/get_balance")
ENDPOINTS = frozenset(BY_ENDPOINT) | frozenset(OTHER_ENDPOINTS)
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_COUNTRIES = {"+65": "SG", "+60": "MY", "+62": "ID", "+63": "PH", "+66": "TH", "+84": "VN",
              "+852": "HK", "+853": "MO", "+86": "CN", "+886": "TW", "+81": "JP", "+82": "KR",
              "+91": "IN", "+61": "AU", "+64": "NZ", "+44": "GB", "+1": "US"}


class Malformed(ValueError):
    """The parameters cannot be read: bad percent-encoding, not UTF-8, not form data."""


class TooLarge(ValueError):
    """The body or query string is over the cap."""


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """Strictly parse ``application/x-www-form-urlencoded`` bytes.

    Unlike the lenient parsers of web frameworks, a ``%`` not followed by two hex digits or
    bytes that are not UTF-8 are refused instead of being passed on mangled.
    """
    if _BAD_ESCAPE.search(raw):
        raise Malformed("a '%' is not followed by two hex digits")
    pairs = []
    for part in raw.split(b"&"):
        if part:
            key, _, value = part.partition(b"=")
            pairs.append((_unquote(key), _unquote(value)))
    return pairs


def _unquote(raw: bytes) -> str:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("a parameter is not UTF-8") from None


def read_body(stream: Any, cap: int = MAX_BODY) -> bytes:
    """The raw body, or :class:`TooLarge` (after draining it, so the reply gets through)."""
    body = bytes(stream.read(cap + 1))
    if len(body) > cap:
        for _ in range(512):            # up to 32 MiB more; past that the connection drops
            if not stream.read(cap):
                break
        raise TooLarge(f"the body is over {cap // 1024} KiB")
    return body


def read_params(environ: Mapping[str, Any], body: bytes) -> dict[str, str]:
    """Query-string and body parameters merged; the first occurrence of a name wins
    (query string first, as servlet containers and Flask's ``request.values`` do)."""
    query = environ.get("QUERY_STRING", "").encode("latin-1")
    if len(query) > MAX_BODY:
        raise TooLarge("the query string is over 64 KiB")
    pairs = parse_form(query)
    content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if body and content_type in ("", "application/x-www-form-urlencoded"):
        pairs += parse_form(body)
    elif body and content_type == "multipart/form-data":
        env = dict(environ, **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        try:
            _, form, _ = parse_form_data(env, silent=False)
        except ValueError as exc:            # silent, it would read as no parameters at all
            raise Malformed(f"the multipart body cannot be read ({exc})") from None
        pairs += list(form.items(multi=True))
    elif body:
        raise Malformed(f"parameters must be form data, not {content_type}")
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    return params


class RestApi:
    """Answers ``/open/...`` requests on behalf of the engine."""

    def __init__(self, engine: Engine, directory: Directory,
                 rate_limit: float | None = None) -> None:
        self.engine = engine
        self.directory = directory
        self.rate_limit = rate_limit
        self._recent: dict[str, deque[float]] = {}
        self._rate_lock = threading.Lock()
        self._others: dict[str, Callable[[Account, dict[str, str]], Reply]] = {
            "number/update_forwarding": self._update_forwarding,
            "number/get_active": self._get_active,
            "voice/query_status": self._query_status,
            "user/get_balance": self._get_balance,
        }

    def handle(self, method: str, endpoint: str, params: dict[str, str]) -> Reply:
        """The reply to a request already known to be for an existing endpoint."""
        if method not in METHODS:
            return status("error_invalid_http_method")
        account, refusal = self._authenticate(params)
        if account is None:
            return status(refusal)
        try:
            if endpoint in BY_ENDPOINT:
                return self._block(method, endpoint, account, params)
            return self._others[endpoint](account, params)
        except Exception:  # a bug here must still answer like Hoiio, not with a 500
            log.exception("the simulator failed on %s %s", method, endpoint)
            return status("error_internal_server_error")

    def _authenticate(self, params: dict[str, str]) -> tuple[Account | None, str]:
        app_id, token = params.get("app_id"), params.get("access_token")
        if not app_id:
            return None, "error_app_id_param_missing"
        if not token:
            return None, "error_access_token_param_missing"
        with self.engine.lock:
            account = self.directory.account(app_id)
        if account is None:
            return None, "error_invalid_app_id"
        if not hmac.compare_digest(token.encode("utf-8"), account.access_token.encode("utf-8")):
            return None, "error_invalid_access_token"
        return account, ""

    def _too_fast(self, account: Account) -> bool:
        """More than ``rate_limit`` requests of this account in the last second (real time).

        An account limit, so it is checked last: only a request that would otherwise be
        carried out is counted or refused."""
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        with self._rate_lock:
            recent = self._recent.setdefault(account.app_id, deque())
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) >= self.rate_limit:
                return True
            recent.append(now)
            return False

    def _block(self, method: str, endpoint: str, account: Account,
               params: dict[str, str]) -> Reply:
        cls = BY_ENDPOINT[endpoint]
        for name in cls.required:
            if not params.get(name):
                return status(f"error_{name}_param_missing")
        try:
            block = cls.from_params(params)
        except BlockError as exc:
            return status(exc.status)
        notify_url = params.get("notify_url") or None
        if notify_url is not None and not is_http_url(notify_url):
            return status("error_invalid_notify_url")
        request = {"endpoint": endpoint, "method": method, "params": mask(params)}
        throttle = functools.partial(self._too_fast, account)
        if isinstance(block, Dial):
            return self.engine.dial(account, block, notify_url, request, throttle)
        return self.engine.submit(account, params["session"], block, notify_url, request,
                                  throttle)

    def _update_forwarding(self, account: Account, params: dict[str, str]) -> Reply:
        number = params.get("number")
        if not number:
            return status("error_number_param_missing")
        forward_to = params.get("forward_to") or None
        with self.engine.lock:
            entry = self.directory.numbers.get(number)
            if entry is None or entry.app_id != account.app_id:
                return status("error_number_invalid")
            if forward_to is not None and not is_http_url(forward_to):
                return status("error_forward_to_invalid")
            if self._too_fast(account):
                return status("error_rate_limit_exceeded")
            # Only voice forwarding is simulated; other modes are accepted and change nothing.
            if params.get("mode", "voice") in ("", "voice"):
                entry.forward_to = forward_to
        return status("success_ok")

    def _get_active(self, account: Account, params: dict[str, str]) -> Reply:
        if self._too_fast(account):
            return status("error_rate_limit_exceeded")
        expiry = (self.engine.clock.wall() + timedelta(days=365)).strftime("%Y-%m-%d")
        with self.engine.lock:
            entries = [{"number": n.number, "forward_to": n.forward_to or "",
                        "forward_to_sms": "", "expiry": expiry, "auto_extend_status": "enabled",
                        "country": _country(n.number), "state": "", "mode": "voice"}
                       for n in self.directory.numbers_of(account)]
        return {"status": "success_ok", "entries_count": str(len(entries)),
                "entries": entries}  # type: ignore[dict-item]

    def _query_status(self, account: Account, params: dict[str, str]) -> Reply:
        txn_ref = params.get("txn_ref")
        if not txn_ref:
            return status("error_txn_ref_param_missing")
        reply = self.engine.query(account, txn_ref)
        if reply is None:
            return status("error_invalid_txn_ref")
        return status("error_rate_limit_exceeded") if self._too_fast(account) else reply

    def _get_balance(self, account: Account, params: dict[str, str]) -> Reply:
        if self._too_fast(account):
            return status("error_rate_limit_exceeded")
        with self.engine.lock:
            return {"status": "success_ok", "currency": account.currency,
                    "balance": money(account.balance)}


def _country(number: str) -> str:
    for length in (4, 3, 2):
        if number[:length] in _COUNTRIES:
            return _COUNTRIES[number[:length]]
    return ""


def describe(endpoint: str, params: Mapping[str, str], reply: Reply) -> str:
    """The log line's summary of a request: who, which call, what came back."""
    who = params.get("session") or params.get("dest") or params.get("txn_ref") or ""
    extra = " ".join(f"{k}={v}" for k, v in reply.items() if k in ("session", "room"))
    return f"{endpoint} {who} -> {reply.get('status')}{' ' + extra if extra else ''}"


"""Twilio's requests to an app (TWIML.md §1, §2, §7), and what their answers amount to.

:func:`request` builds one: the call's parameters and the request's own, in the query
string of a GET or the form of a POST; signed (:mod:`.signing`) over the URL without its
credentials, which go in ``Authorization`` instead and stay for later requests to that
host; with the call's cookies, a fresh ``I-Twilio-Idempotency-Token`` and Twilio's
``User-Agent``. :func:`read_answer` says what an answer is: a document to run, an HTTP
redirect to follow, text to read aloud, audio to play, or one of Twilio's errors.
"""
from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ...protocol import is_http_url
from ..accounts import TwilioAccount
from ..notifier import WEBHOOK, Delivery, Notice
from ..transport import form_encode
from . import signing
from .errors import TwimlError
from .parser import MAX_BYTES
from .state import Fetch, Hook, TwimlCall
from .verbs import Document, load

API_VERSION = "2010-04-01"
USER_AGENT = "TwilioProxy/1.1"
#: No connection within 10 s, or no answer within 15 s: error 11205 (TWIML.md §8).
TIMEOUT = (10.0, 15.0)
#: HTTP redirects followed for one request (more: error 11215).
MAX_HOPS = 10
DOCUMENT_TYPES = frozenset({"text/xml", "application/xml", "text/html"})
#: The most of a text/plain answer read aloud.
SAY_LIMIT = 4000
Params = Sequence[tuple[str, str]]


def call_params(sid: str, t: TwimlCall) -> list[tuple[str, str]]:
    """The parameters every request of the call carries (TWIML.md §1)."""
    return [("AccountSid", t.account_sid), ("ApiVersion", API_VERSION), ("CallSid", sid),
            ("CallStatus", t.status), ("Called", t.to), ("Caller", t.from_),
            ("Direction", t.direction), ("From", t.from_), ("To", t.to)]


def request(session: str, t: TwimlCall, hook: Hook, params: Params, account: TwilioAccount,
            *, kind: str = WEBHOOK, serial: int = 0, label: str = "",
            cookies: bool = True) -> Notice:
    """A signed request of call ``session`` to ``hook``, ready for the outbox."""
    url, login = _credentials(hook.url)
    host = urlsplit(url).netloc
    if login is not None:
        t.logins[host] = login               # logged in for the rest of the call
    login = t.logins.get(host)
    pairs = tuple(params)
    signed: tuple[tuple[str, str], ...]
    if hook.method == "GET":
        url += ("&" if urlsplit(url).query else "?") + form_encode(pairs)
        body, signed = b"", ()
    else:
        body, signed = form_encode(pairs).encode("ascii"), pairs
    secret, algorithm = (account.shared_key[1], signing.HMAC_SHA256) if account.shared_key \
        else (account.auth_token, signing.HMAC_SHA1)
    signature = signing.compute(signing.signing_url(url), signed, secret, algorithm)
    headers = [("User-Agent", USER_AGENT), ("I-Twilio-Idempotency-Token", str(uuid.uuid4())),
               (signing.SIGNATURE_HEADER, signature)]
    if account.shared_key:
        headers.append((signing.SETTINGS_HEADER, signing.settings_header(account.shared_key[0])))
    if hook.method == "POST":
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    cookie = t.jar.header(url) if cookies else None
    if cookie:
        headers.append(("Cookie", cookie))
    if login:
        headers.append(("Authorization",
                        "Basic " + base64.b64encode(login.encode("utf-8")).decode("ascii")))
    return Notice(session, url, pairs, body, signature, hook.method, tuple(headers), kind,
                  serial, TIMEOUT, label)


def _credentials(url: str) -> tuple[str, str | None]:
    """``url`` without ``user:password@``, and ``user:password`` if it had them."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    login = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), login


@dataclass(frozen=True)
class Outcome:
    """What an answer amounts to: exactly one field is set."""

    document: Document | None = None
    redirect: Hook | None = None
    say: str | None = None
    play: str | None = None
    error: TwimlError | None = None


def read_answer(fetch: Fetch, result: Delivery) -> Outcome:
    """What the answer to ``fetch`` says the call does next (TWIML.md §1, §8)."""
    url = fetch.hook.url
    if result.status is None:
        return Outcome(error=TwimlError(11205, f"{url} did not answer: {result.error}"))
    if 300 <= result.status < 400:
        return _redirect(fetch, result)
    if not 200 <= result.status < 300:
        return Outcome(error=TwimlError(11217, f"{url} answered HTTP {result.status}; a "
                                               "webhook must answer 200 with TwiML"))
    kind = (result.header("Content-Type") or "").split(";")[0].strip().lower()
    if len(result.body) > MAX_BYTES:
        return Outcome(error=TwimlError(11750, f"the answer of {url} is over "
                                               f"{MAX_BYTES // 1024} kB"))
    if kind in DOCUMENT_TYPES or kind == "text/plain":
        try:
            return Outcome(document=load(result.body))
        except TwimlError as exc:
            if kind != "text/plain":
                return Outcome(error=exc)
        # Plain text that is not TwiML is read to the caller, who is then hung up on.
        return Outcome(say=result.body.decode("utf-8", "replace")[:SAY_LIMIT].strip())
    if kind.startswith("audio/"):
        return Outcome(play=url)
    return Outcome(error=TwimlError(12300, f"{url} answered Content-Type "
                                           f"{kind or '(none)'}; TwiML is text/xml (or "
                                           "application/xml, text/html, text/plain)"))


def _redirect(fetch: Fetch, result: Delivery) -> Outcome:
    location = result.header("Location")
    if not location:
        return Outcome(error=TwimlError(11200, f"{fetch.hook.url} answered HTTP "
                                               f"{result.status} without a Location"))
    if fetch.hops >= MAX_HOPS:
        return Outcome(error=TwimlError(11215, f"more than {MAX_HOPS} HTTP redirects, the "
                                               f"last from {fetch.hook.url}"))
    target = urljoin(fetch.hook.url, location)
    if not is_http_url(target):
        return Outcome(error=TwimlError(11200, f"{fetch.hook.url} redirected to {location!r},"
                                               " which is not an http(s) URL"))
    # 301/302/303 become a GET, as browsers do; 307/308 keep the method (TWIML.md §1).
    method = "GET" if result.status in (301, 302, 303) else fetch.hook.method
    return Outcome(redirect=Hook(target, method))

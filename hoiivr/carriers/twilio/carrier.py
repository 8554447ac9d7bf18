""":class:`TwilioCarrier`: Twilio's programmable voice as a hoiivr carrier.

A notification is Twilio's voice webhook, signed with ``X-Twilio-Signature`` over the URL
and the form; the app's answer *is* the next instructions, a TwiML document; an outbound
call is the Calls REST resource. ``../shared/TWIML.md`` is the contract, ``docs/parity.rst``
what differs from Hoiio.
"""
from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from ...blocks import Block, Dial
from ...config import Settings
from ...errors import (ApiError, CallGone, ConfigError, NetworkError, NotificationError,
                       SignatureError, loggable)
from ...notification import Notification
from ..base import Answer, Carrier, Inbound, Placed
from ..http import failure_reason, was_sent
from . import twiml, voices
from .busy import BusyRetry
from .signature import DIGESTS, is_valid, without_credentials
from .webhook import SETTINGS_HEADER, SIGNATURE_HEADER, Form, read_form

log = logging.getLogger("hoiivr")

TWIML_TYPE = "text/xml; charset=utf-8"
#: Twilio reads the answer of a status callback as nothing; a document with no verbs ends a
#: call that is waiting for one.
NOTHING = Answer(VoiceResponse().to_xml(), content_type=TWIML_TYPE)
#: Seconds a Calls request may take; it is sent again only when Twilio refused it as busy.
TIMEOUT = 10.0


class TwilioCarrier(Carrier):
    """Twilio, through a ``twilio.rest.Client``. ``auth_token`` verifies
    ``X-Twilio-Signature``; ``shared_keys`` (id -> secret) the SharedKey signatures;
    ``from_number`` is where outbound calls come from unless a Dial says otherwise."""

    name: ClassVar[str] = "twilio"
    blocks: ClassVar[frozenset[str]] = frozenset({"dial", "play", "gather", "record",
                                                  "transfer", "hangup"})
    events: ClassVar[frozenset[str]] = frozenset({"answer", "dial_answered", "dial_failed",
                                                  "gather", "record", "play",
                                                  "transfer_failed", "hangup"})
    signature_header: ClassVar[str] = SIGNATURE_HEADER
    credentials: ClassVar[tuple[str, ...]] = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    #: The number's VoiceMethod, and an action's method, may be GET (TWIML.md §1).
    methods: ClassVar[frozenset[str]] = frozenset({"GET", "POST"})
    number_url: ClassVar[str] = "number's Voice URL (and its Status Callback URL)"
    #: A <Record>'s action and the status callback: either may come first.
    split_end: ClassVar[bool] = True

    def __init__(self, client: Client, auth_token: str | None = None, *,
                 shared_keys: dict[str, str] | None = None, from_number: str | None = None,
                 verify: bool = True) -> None:
        self.client = client
        self.auth_token = auth_token or str(client.password)
        self.shared_keys = dict(shared_keys or {})
        self.from_number = from_number
        self.verify = verify
        self._told = threading.Event()     # the URL hint is logged once

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> TwilioCarrier:
        """Twilio as ``settings`` describe it: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``,
        ``TWILIO_API_URL``, ``TWILIO_FROM_NUMBER``, ``TWILIO_WEBHOOK_SHARED_KEYS``,
        ``HOIIVR_VERIFY_SIGNATURE``; ``client`` replaces the ``twilio.rest.Client`` they
        would build."""
        if client is None:
            sid, token = settings.required(*cls.credentials, why="your Twilio account's "
                                           "credentials")
            client = Client(sid, token,
                            http_client=BusyRetry(TwilioHttpClient(timeout=TIMEOUT)))
            api_url = settings.get("TWILIO_API_URL")
            if api_url:
                client.api.base_url = str(api_url).rstrip("/")
        verify = settings.flag("HOIIVR_VERIFY_SIGNATURE", True)
        if not verify:
            log.warning("HOIIVR_VERIFY_SIGNATURE is off: anyone who can reach this app can "
                        "forge Twilio webhooks. Turn it on for anything but local experiments.")
        return cls(client, settings.get("TWILIO_AUTH_TOKEN"),
                   shared_keys=_shared_keys(settings.words("TWILIO_WEBHOOK_SHARED_KEYS")),
                   from_number=settings.get("TWILIO_FROM_NUMBER"), verify=verify)

    # -- webhooks ------------------------------------------------------------------------

    def authenticate(self, request: Inbound) -> None:
        if not self.verify:
            return
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"the {SIGNATURE_HEADER} header is missing")
        secret, digest, source = self._secret(request)
        try:
            # A GET's parameters are in its URL, which is signed.
            params = () if request.method == "GET" else _form(request).pairs
            valid = is_valid(request.url, params, signature, secret, digest)
        except NotificationError as exc:
            raise SignatureError(f"{exc}; Twilio signs form-encoded UTF-8") from None
        except ValueError:
            raise SignatureError(f"{request.url} has no valid port; check "
                                 "HOIIVR_PUBLIC_URL") from None
        if not valid:
            self._hint(request.url)
            raise SignatureError(f"the {SIGNATURE_HEADER} header does not match the request; "
                                 f"check {source}, and HOIIVR_PUBLIC_URL behind a tunnel or "
                                 "proxy")

    def _secret(self, request: Inbound) -> tuple[str, str, str]:
        """The auth token, or the SharedKey secret the request says it is signed with; the
        digest of its HMAC; and where the secret was set, for a mismatch's message."""
        settings = request.headers.get(SETTINGS_HEADER)
        if not settings:
            return self.auth_token, "sha1", "TWILIO_AUTH_TOKEN"
        algorithm = get_signature_algorithm(settings).upper()
        digest = DIGESTS.get(algorithm)
        if digest is None:
            raise SignatureError(f"the webhook is signed with {algorithm!r}, which hoiivr does "
                                 f"not know; it checks {' and '.join(DIGESTS)}")
        key = dict(part.strip().partition("=")[::2] for part in settings.split(",")).get("key")
        secret = self.shared_keys.get(key or "")
        if secret is None:
            raise SignatureError(f"the webhook is signed with SharedKey {key!r}, which is not "
                                 "in TWILIO_WEBHOOK_SHARED_KEYS")
        return secret, digest, f"SharedKey {key!r} in TWILIO_WEBHOOK_SHARED_KEYS"

    def _hint(self, url: str) -> None:
        if not self._told.is_set():
            self._told.set()
            log.warning("a Twilio signature did not match %s, the URL this app rebuilt for "
                        "it. Twilio signs the URL it requested: behind a tunnel or proxy set "
                        "HOIIVR_PUBLIC_URL to the public root URL (the one given to Twilio). "
                        "Said once.", loggable(without_credentials(url)))

    def parse(self, request: Inbound) -> Notification:
        if request.method == "GET":
            return read_form(request.query, b"", "GET").notification()
        return _form(request).notification()

    # -- delivering ----------------------------------------------------------------------

    @classmethod
    def refuses(cls, block: type[Block], options: dict[str, Any]) -> list[str]:
        reasons = []
        if str(options.get("dest", "")).startswith("room:"):
            reasons.append("conference rooms are not in the TwiML subset hoiivr supports")
        if options.get("caller_id") == "private":
            reasons.append("Twilio cannot hide the caller id")
        speech = "speech" in str(options.get("input") or "")
        language = options.get("language")
        if speech and language is not None and language not in voices.SPEECH_LANGUAGES:
            reasons.append(f"Twilio does not recognize speech in language={language!r}; it "
                           f"does in {', '.join(sorted(voices.SPEECH_LANGUAGES))}")
        elif not (speech and options.get("msg") is None):
            # A Gather without a prompt says nothing: its language is only what it hears.
            problem = voices.say_problem(options.get("voice"), language)
            if problem:
                reasons.append(problem)
        return reasons

    def check(self, blocks: Sequence[Block], handler: str) -> None:
        for block in blocks:
            twiml.check(block)
        super().check(blocks, handler)

    def batch(self, blocks: Sequence[Block]) -> int:
        return len(blocks)         # one document runs them all

    def deliver(self, session: str | None, blocks: Sequence[Block], notify_url: str | None,
                *, ringing: bool = False) -> Answer | None:
        return Answer(twiml.render(blocks, notify_url, ringing), content_type=TWIML_TYPE)

    def interject(self, session: str | None, blocks: Sequence[Block], notify_url: str | None,
                  *, ringing: bool = False) -> None:
        """Redirect the live call to the document of ``blocks`` (the Calls resource's
        ``Twiml``); Twilio drops the answer of the webhook still pending."""
        document = twiml.render(blocks, notify_url, ringing)
        try:
            self.client.calls(session).update(twiml=document)
        except TwilioRestException as exc:
            # 21220: the call is no longer in progress.
            error = CallGone if exc.code == 21220 else ApiError
            raise error(str(exc.code or exc.status), "Calls", {"CallSid": str(session)},
                        response=exc) from exc
        except requests.RequestException as exc:
            raise _network_error(exc) from exc

    def acknowledge(self) -> Answer:
        return NOTHING

    def dial(self, block: Dial, notify_url: str) -> Placed:
        twiml.check(block)
        caller = block.caller_id or self.from_number
        if not caller:
            raise ConfigError("an outbound call on Twilio needs a number to call from: set "
                              "TWILIO_FROM_NUMBER, or give ivr.dial(caller_id=...)")
        options: dict[str, Any] = {"status_callback": notify_url,
                                   "status_callback_method": "POST"}
        if block.msg:
            # Said once answered, then the call's notify URL decides, as on Hoiio.
            options["twiml"] = twiml.greeting(block, notify_url)
        else:
            options.update(url=notify_url, method="POST")
        if block.max_duration:
            options["time_limit"] = block.max_duration
        try:
            call = self.client.calls.create(to=block.dest, from_=caller, **options)
        except TwilioRestException as exc:
            raise ApiError(str(exc.code or exc.status), "Calls", {"To": block.dest},
                           response=exc) from exc
        except requests.RequestException as exc:
            raise _network_error(exc) from exc
        return Placed(str(call.sid), str(call.sid), reply=call)

    def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()


def _form(request: Inbound) -> Form:
    """The parameters of a form POST, parsed once for :meth:`TwilioCarrier.authenticate`
    and :meth:`~TwilioCarrier.parse` both."""
    return _parsed_form(request.body)


@functools.lru_cache(maxsize=32)   # a request is parsed and read within microseconds
def _parsed_form(body: bytes) -> Form:
    return read_form("", body, "POST")


def _shared_keys(items: list[str]) -> dict[str, str]:
    keys = {}
    for item in items:
        key, sep, secret = item.partition("=")
        if not sep or not key.strip() or not secret.strip():
            # Named by its id only: without an "=", the item may be a secret.
            shown = repr(key.strip()) + "=..." if sep else "an item with no '='"
            raise ConfigError(f"TWILIO_WEBHOOK_SHARED_KEYS takes id=secret pairs separated by "
                              f"commas; {shown} is not one")
        keys[key.strip()] = secret.strip()
    return keys


def _network_error(exc: requests.RequestException) -> NetworkError:
    sent = was_sent(exc)
    reason = type(failure_reason(exc)).__name__
    return NetworkError(f"Twilio did not answer the Calls request ({reason}); "
                        + ("it may have placed the call, so it is not sent again" if sent
                           else "check TWILIO_API_URL and the network"),
                        "Calls", {}, sent=sent)

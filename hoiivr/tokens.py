"""Signed notify-URL tokens.

Hoiio's ``X-Hoiio-Signature`` proves a body came from Hoiio but not that it is fresh or
meant for this step, so every block's ``notify_url`` carries a :class:`Ticket` signed with
itsdangerous: which call, which sequence number, which block kind and step. A token from
another call, an older step, an expired one or one signed with a retired key is refused.
"""
from __future__ import annotations

import binascii
import hmac
import json
import math
import time
from dataclasses import dataclass
from typing import Sequence

from itsdangerous import BadData, URLSafeTimedSerializer
from itsdangerous.signer import Signer

from .errors import ConfigError, TokenError

SALT = "hoiivr.notify-url"
#: A token signed this many seconds "in the future" (clock skew between workers) still loads.
CLOCK_SKEW = 5


#: A ticket's payload: compact JSON, as itsdangerous writes it, never zlib-compressed (a
#: ticket's short JSON rarely shrinks, and trying costs more than the signing itself).
_COMPACT = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class Ticket:
    """What a notify URL is for: ``seq`` is the number of the block that URL belongs to."""

    call: str
    seq: int
    block: str
    step: str | None = None


class NotifyTokens:
    """Signs and checks tickets. ``fallback_keys`` still verify, for key rotation."""

    def __init__(self, secret_key: str | bytes, fallback_keys: Sequence[str | bytes] = (),
                 max_age: float = 86400.0) -> None:
        if not secret_key:
            raise ConfigError("SECRET_KEY is not set: hoiivr signs every notify URL with it. "
                              "Set app.config['SECRET_KEY'] (or the SECRET_KEY environment "
                              "variable) to a long random string, e.g. from "
                              "`python -c 'import secrets; print(secrets.token_hex(32))'`.")
        # Reads any URLSafeTimedSerializer's payload, zlib-compressed or not.
        self.serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
        # Tokens are URLSafeTimedSerializer's (``payload.timestamp.signature``, HMAC-SHA1
        # with its key derivation), signed here with the keys derived once: itsdangerous
        # derives the key again for every token, which cost more than the HMAC itself.
        # The last key signs; any of them verifies.
        self._macs = [hmac.new(Signer(key, salt=SALT).derive_key(), digestmod="sha1")
                      for key in reversed([*fallback_keys, secret_key])]
        self.max_age = max_age

    def dumps(self, ticket: Ticket) -> str:
        payload = _encode(_COMPACT.encode([ticket.call, ticket.seq, ticket.block,
                                           ticket.step]).encode())
        now = int(time.time())
        value = payload + b"." + _encode(now.to_bytes((now.bit_length() + 7) // 8, "big"))
        return (value + b"." + _encode(_mac(self._macs[0], value))).decode("ascii")

    def loads(self, token: str) -> Ticket:
        """The ticket in ``token``; :class:`TokenError` if forged, altered or expired."""
        value, _, signature = token.encode("ascii", "replace").rpartition(b".")
        payload, _, stamp = value.rpartition(b".")
        try:
            mac = _decode(signature)
        except ValueError:
            raise TokenError(_NOT_SIGNED) from None
        # The last base64 character of a signature carries padding bits that decoding
        # ignores, so a genuine token has a few other spellings that verify. Only the one
        # this app writes is taken: "any change to the URL is refused", one token a step.
        if not payload or _encode(mac) != signature:
            raise TokenError(_NOT_SIGNED)
        if not any(hmac.compare_digest(_mac(keyed, value), mac) for keyed in self._macs):
            raise TokenError(_NOT_SIGNED)
        try:
            signed = int.from_bytes(_decode(stamp), "big")
            ticket = (json.loads(_decode(payload)) if payload[:1] != b"."
                      else self.serializer.load_payload(payload))   # another's, compressed
        except (BadData, ValueError):         # signed by us, so never: but not a 500
            raise TokenError(_NOT_SIGNED) from None
        now = time.time()
        # A token signed a little "in the future" (clock skew between workers) still loads.
        if signed - now > CLOCK_SKEW or signed + math.ceil(self.max_age) < now:
            raise TokenError("the notify URL's token has expired", reason="expired")
        return _ticket(ticket)


def _mac(keyed: hmac.HMAC, value: bytes) -> bytes:
    """HMAC-SHA1 of ``value`` (a copy of the keyed HMAC is cheaper than a new one)."""
    mac = keyed.copy()
    mac.update(value)
    return mac.digest()


_NOT_SIGNED = ("the notify URL's token is not one this app signed (forged, altered, or "
               "signed with a key no longer in use)")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _encode(data: bytes) -> bytes:
    """URL-safe base64 with no padding, as itsdangerous writes it."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _decode(text: bytes) -> bytes:
    """What :func:`_encode` wrote; ValueError if ``text`` is not URL-safe base64."""
    if b"+" in text or b"/" in text:
        raise ValueError("not URL-safe base64")
    # binascii.Error is a ValueError.
    return binascii.a2b_base64(text.translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4),
                               strict_mode=True)


def _ticket(payload: object) -> Ticket:
    if (not isinstance(payload, list) or len(payload) != 4 or not isinstance(payload[0], str)
            or not isinstance(payload[1], int) or not isinstance(payload[2], str)):
        raise TokenError("the notify URL's token does not hold a ticket")
    return Ticket(*payload)

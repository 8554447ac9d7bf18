"""Signed notify-URL tokens.

Hoiio's ``X-Hoiio-Signature`` proves a body came from Hoiio but not that it is fresh or
meant for this step, so every block's ``notify_url`` carries a :class:`Ticket` signed with
itsdangerous: which call, which sequence number, which block kind and step. A token from
another call, an older step, an expired one or one signed with a retired key is refused.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from itsdangerous.serializer import Serializer
from itsdangerous.signer import Signer

from .errors import ConfigError, TokenError

SALT = "hoiivr.notify-url"
#: A token signed this many seconds "in the future" (clock skew between workers) still loads.
CLOCK_SKEW = 5


class _TicketSerializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer, with the same tokens made cheaper.

    Two costs of every notification are cut: the signer is built once, not per token (it
    keeps no state between calls, so threads share it), and the payload is never
    zlib-compressed: a ticket's short JSON rarely shrinks, and trying costs more than the
    signing itself. Tokens load with any ``URLSafeTimedSerializer``, and this one loads
    theirs, compressed or not.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signer = super().make_signer(self.salt)

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None or salt == self.salt:
            return self._signer
        return super().make_signer(salt)

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


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
        # itsdangerous signs with the last key and verifies with any of them.
        self.serializer = _TicketSerializer([*fallback_keys, secret_key], salt=SALT)
        self.max_age = max_age

    def dumps(self, ticket: Ticket) -> str:
        return str(self.serializer.dumps([ticket.call, ticket.seq, ticket.block, ticket.step]))

    def loads(self, token: str) -> Ticket:
        """The ticket in ``token``; :class:`TokenError` if forged, altered or expired."""
        if not _canonical(token):
            raise TokenError(_NOT_SIGNED)
        try:
            payload = self.serializer.loads(token, max_age=math.ceil(self.max_age))
        except SignatureExpired as exc:
            payload = self._skewed(exc)
        except BadSignature:
            raise TokenError(_NOT_SIGNED) from None
        return _ticket(payload)

    def _skewed(self, exc: SignatureExpired) -> object:
        signed = exc.date_signed.timestamp() if exc.date_signed else 0.0
        if signed - time.time() > CLOCK_SKEW or signed + self.max_age < time.time():
            raise TokenError("the notify URL's token has expired", reason="expired") from None
        assert exc.payload is not None       # a SignatureExpired always carries it
        return self.serializer.load_payload(exc.payload)


_NOT_SIGNED = ("the notify URL's token is not one this app signed (forged, altered, or "
               "signed with a key no longer in use)")


def _canonical(token: str) -> bool:
    """True if the signature is spelled the one way this app writes it.

    The last base64 character of a signature carries padding bits that decoding ignores,
    so a genuine token has a few other spellings that verify. Refusing them keeps "any
    change to the URL is refused" true, and one token per step.
    """
    signature = token.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)).decode() == signature
    except BadData:   # not base64 at all
        return False


def _ticket(payload: object) -> Ticket:
    if (not isinstance(payload, list) or len(payload) != 4 or not isinstance(payload[0], str)
            or not isinstance(payload[1], int) or not isinstance(payload[2], str)):
        raise TokenError("the notify URL's token does not hold a ticket")
    return Ticket(*payload)

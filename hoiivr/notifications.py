"""Hoiio's notifications: the typed :class:`Notification`, and ``X-Hoiio-Signature``.

The signature is the lowercase hex HMAC-SHA256 of the raw request body, keyed with the
app's access token. Verify the bytes as received, before parsing anything::

    verify_signature(request.get_data(), request.headers.get(SIGNATURE_HEADER), token)
    notification = Notification.from_form(request.form)
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Iterable, Mapping

from .errors import NotificationError, SignatureError
from .protocol import parse_time

SIGNATURE_HEADER = "X-Hoiio-Signature"
CALL_STATES = frozenset({"ringing", "ongoing", "ended"})
SESSION_MAX = 64

# Form field -> attribute, for the fields kept as text.
_TEXT_FIELDS = {"ivr_block": "ivr_block", "txn_ref": "txn_ref", "tag": "tag",
                "from": "from_number", "to": "to_number", "dest": "dest",
                "dial_status": "dial_status", "digits": "digits", "record_url": "record_url",
                "transfer_status": "transfer_status", "currency": "currency"}
_KNOWN = set(_TEXT_FIELDS) | {"session", "call_state", "date", "duration", "rate", "debit"}


@dataclass(frozen=True)
class Notification:
    """One notification from Hoiio, its fields converted to Python values.

    Fields Hoiio did not send are ``None``; fields this version does not know (and the
    pass-on parameters of the notify URL) are kept in ``extra``.
    """

    session: str
    call_state: str
    ivr_block: str | None = None
    txn_ref: str | None = None
    tag: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    dest: str | None = None
    dial_status: str | None = None
    digits: str | None = None
    record_url: str | None = None
    transfer_status: str | None = None
    date: datetime | None = None
    duration: int | None = None
    currency: str | None = None
    rate: Decimal | None = None
    debit: Decimal | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.call_state == "ended"

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Notification:
        """Parse form fields; a missing or malformed field raises :class:`NotificationError`."""
        session = _required(form, "session")
        if len(session) > SESSION_MAX or not session.isprintable():
            raise NotificationError(f"session {session[:SESSION_MAX]!r} is not a Hoiio session id",
                                    "session")
        call_state = _required(form, "call_state")
        if call_state not in CALL_STATES:
            raise NotificationError(f"call_state {call_state!r} is not ringing, ongoing or ended",
                                    "call_state")
        values = {attr: form[name] for name, attr in _TEXT_FIELDS.items() if name in form}
        return cls(session=session, call_state=call_state, **values,
                   date=_convert(form, "date", parse_time),
                   duration=_convert(form, "duration", _count),
                   rate=_convert(form, "rate", _amount),
                   debit=_convert(form, "debit", _amount),
                   extra={k: v for k, v in form.items() if k not in _KNOWN})


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise NotificationError(f"the notification has no {name!r} field; is this request "
                                "really from Hoiio?", name)
    return value


def _convert(form: Mapping[str, str], name: str, convert: type | object) -> object:
    text = form.get(name)
    if text is None or text == "":
        return None
    try:
        return convert(text)  # type: ignore[operator]
    except (ValueError, InvalidOperation):
        raise NotificationError(f"field {name}={text[:40]!r} is not a valid {name}", name) from None


def _count(text: str) -> int:
    # int() would also take "-1", " 1", "1_0" and other scripts' digits.
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)


def _amount(text: str) -> Decimal:
    # Decimal() would also take "NaN" and "Infinity", which break any later comparison.
    amount = Decimal(text)
    if not amount.is_finite():
        raise ValueError(text)
    return amount


def compute_signature(body: bytes, key: str) -> str:
    """The ``X-Hoiio-Signature`` value for ``body``: hex HMAC-SHA256 keyed with ``key``."""
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, keys: str | Iterable[str]) -> None:
    """Raise :class:`SignatureError` unless ``signature`` matches ``body`` under one key.

    ``keys`` may list several access tokens while one is being rotated out. The comparison
    takes the same time wherever the first differing character is.
    """
    if not signature:
        raise SignatureError(f"the {SIGNATURE_HEADER} header is missing")
    given = signature.strip().lower().encode("latin-1", "replace")
    for key in [keys] if isinstance(keys, str) else keys:
        if hmac.compare_digest(compute_signature(body, key).encode("ascii"), given):
            return
    raise SignatureError(f"the {SIGNATURE_HEADER} header does not match the body; check that "
                         "HOIIO_ACCESS_TOKEN is the access token of the app Hoiio signs with")

"""Hoiio's notifications: ``X-Hoiio-Signature``, and form fields into a
:class:`~hoiivr.notification.Notification`.

The signature is the lowercase hex HMAC-SHA256 of the raw request body, keyed with the
app's access token. Verify the bytes as received, before parsing anything::

    verify_signature(body, headers.get(SIGNATURE_HEADER), token)
    notification = parse_notification(parse_form(body))
"""
from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping, TypeVar
from urllib.parse import unquote_plus

from ...errors import NotificationError, SignatureError
from ...notification import CALL_STATES, Notification, notification, required
from ...protocol import parse_time

T = TypeVar("T")

SIGNATURE_HEADER = "X-Hoiio-Signature"
SESSION_MAX = 64
#: A notification has about ten fields; a body with many more is not from Hoiio.
MAX_FIELDS = 64

# Form field -> attribute, for the fields kept as text.
_TEXT_FIELDS = {"ivr_block": "ivr_block", "txn_ref": "txn_ref", "tag": "tag",
                "from": "from_number", "to": "to_number", "dest": "dest",
                "dial_status": "dial_status", "digits": "digits", "record_url": "record_url",
                "transfer_status": "transfer_status", "currency": "currency"}
_BILLING = frozenset({"date", "duration", "rate", "debit"})
_KNOWN = set(_TEXT_FIELDS) | {"session", "call_state"} | _BILLING


def parse_notification(form: Mapping[str, str]) -> Notification:
    """Parse Hoiio's form fields; a missing or malformed field raises
    :class:`NotificationError`."""
    session = required(form, "session", "Hoiio")
    if len(session) > SESSION_MAX or not (session.isascii() and session.isprintable()):
        raise NotificationError(f"session {session[:SESSION_MAX]!r} is not a Hoiio session id",
                                "session")
    call_state = required(form, "call_state", "Hoiio")
    if call_state not in CALL_STATES:
        raise NotificationError(f"call_state {call_state!r} is not ringing, ongoing or ended",
                                "call_state")
    values: dict[str, Any] = {attr: form[name] for name, attr in _TEXT_FIELDS.items()
                              if name in form}
    if not _BILLING.isdisjoint(form):        # only an end notification has any
        values.update(date=_convert(form, "date", parse_time),
                      duration=_convert(form, "duration", _count),
                      rate=_convert(form, "rate", _amount),
                      debit=_convert(form, "debit", _amount))
    return notification(session, call_state, {k: v for k, v in form.items() if k not in _KNOWN},
                        **values)


def parse_form(body: bytes) -> dict[str, str]:
    """The fields of a form-encoded body, as ``parse_qsl`` reads them, in half its time:
    only a part with ``%`` or ``+`` in it is unquoted. A name sent twice is refused: a
    notification has each field once, and which of two copies to believe cannot be known."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotificationError(f"the body is not a form-encoded notification ({exc})") from None
    if text.count("&") >= MAX_FIELDS:
        raise NotificationError(f"the body has more than {MAX_FIELDS} fields; a notification "
                                "has about ten")
    fields: dict[str, str] = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            if "%" in value or "+" in value:
                value = _unquote(value)
            if "%" in name or "+" in name:
                name = _unquote(name)
            if name in fields:
                raise NotificationError(f"the field {name!r} is sent twice; a notification has "
                                        "each field once", name)
            fields[name] = value
    return fields


def _unquote(text: str) -> str:
    """``unquote_plus``, in a tenth of its time for what notifications are mostly made of:
    numbers (``%2B6591234567``) and times (``2024-01-01+10:00:00``)."""
    if text.count("%") == text.count("%2B"):
        return text.replace("+", " ").replace("%2B", "+")
    return unquote_plus(text)


def _convert(form: Mapping[str, str], name: str, convert: Callable[[str], T]) -> T | None:
    text = form.get(name)
    if text is None or text == "":
        return None
    try:
        return convert(text)
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

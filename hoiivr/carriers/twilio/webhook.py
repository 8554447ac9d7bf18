"""Twilio's voice webhooks: ``X-Twilio-Signature``, and form fields into a
:class:`~hoiivr.notification.Notification` (``../shared/TWIML.md`` §1, §2, §4, §5).

The signature covers the URL Twilio requested and the form's parameters, so the URL must be
rebuilt as Twilio saw it: behind a tunnel or a proxy that is ``HOIIVR_PUBLIC_URL``, not the
address the app listens on. ``signature.py`` checks it as the ``twilio`` package's
``RequestValidator`` does. The form is read once (:class:`Form`) for both the signature
and the notification.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import MultiDict

from ...errors import NotificationError
from ...notification import Notification, notification, required

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
SID_MAX = 64
MAX_FIELDS = 128

#: ``CallStatus`` values of a call that is over (§4).
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
#: A ``DialCallStatus`` or an outbound call's ``CallStatus``, as Hoiio's ``transfer_status``
#: and ``dial_status`` name it.
OUTCOMES = {"completed": "answered", "answered": "answered", "in-progress": "answered",
            "busy": "busy", "no-answer": "unanswered", "canceled": "unanswered",
            "failed": "failed"}
_KNOWN = {"CallSid", "CallStatus", "From", "To", "Direction", "Digits", "RecordingUrl",
          "DialCallStatus", "CallDuration", "Duration", "Timestamp", "SpeechResult",
          "Confidence"}


@dataclass(frozen=True)
class Form:
    """A webhook's parameters, read once: every name and value in the order sent
    (``pairs``, what the signature covers), and the first value of each name (``fields``)."""

    pairs: tuple[tuple[str, str], ...]
    fields: Mapping[str, str]

    @classmethod
    def of(cls, pairs: list[tuple[str, str]]) -> Form:
        fields = dict(pairs)
        if len(fields) < len(pairs):        # a name sent twice: its first value counts
            fields = {}
            for name, value in pairs:
                fields.setdefault(name, value)
        return cls(tuple(pairs), fields)

    def notification(self) -> Notification:
        """The notification in it (:func:`parse_webhook`), a repeated field refused."""
        if len(self.fields) < len(self.pairs):
            _refuse_repeated(Counter(name for name, _ in self.pairs))
        return parse_webhook(self.fields)


def read_form(query: str, body: bytes, method: str) -> Form:
    """The webhook's parameters: the form body of a POST, the query string of a GET."""
    try:
        text = query if method == "GET" else body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotificationError(f"the body is not a form-encoded webhook ({exc})") from None
    if text.count("&") >= MAX_FIELDS:
        raise NotificationError(f"the webhook has more than {MAX_FIELDS} parameters")
    return Form.of(parse_qsl(text, keep_blank_values=True))


def parse_params(query: str, body: bytes, method: str) -> MultiDict[str, str]:
    """The webhook's parameters (:func:`read_form`) as a ``MultiDict``."""
    return MultiDict(read_form(query, body, method).pairs)


def parse_webhook(params: Mapping[str, str]) -> Notification:
    """The notification in a webhook's parameters; a missing, repeated or malformed one
    raises :class:`NotificationError`."""
    if isinstance(params, MultiDict):
        _refuse_repeated({name: len(params.getlist(name)) for name in _KNOWN})
    sid = required(params, "CallSid", "Twilio")
    if len(sid) > SID_MAX or not (sid.isascii() and sid.isprintable()):
        raise NotificationError(f"CallSid {sid[:SID_MAX]!r} is not a Twilio call sid", "CallSid")
    status = required(params, "CallStatus", "Twilio")
    dial_call_status = params.get("DialCallStatus") or None
    outbound = params.get("Direction", "").startswith("outbound")
    recording = _playable(params.get("RecordingUrl") or None)
    call_state = _call_state(status, dial_call_status)
    return notification(
        sid, call_state, {k: v for k, v in params.items() if k not in _KNOWN}, txn_ref=sid,
        final=not _before_the_end(call_state, params),
        from_number=params.get("From"), to_number=params.get("To"),
        dest=params.get("To") if outbound else None,
        dial_status=OUTCOMES.get(status) if outbound else None,
        transfer_status=OUTCOMES.get(dial_call_status) if dial_call_status else None,
        # After a <Record>, Digits is the key that ended it (or "hangup"), not an answer.
        digits=None if recording else params.get("Digits"),
        speech=params.get("SpeechResult") or None, confidence=_confidence(params),
        record_url=recording, duration=_minutes(params), date=_timestamp(params))


def _before_the_end(call_state: str, params: Mapping[str, str]) -> bool:
    """An action that says the call is over (a ``<Record>`` the caller hung up on, a
    ``<Dial>`` that ended): the status callback reports the end after it, with the
    duration. (A status callback may carry a recording too, but says where it comes from.)"""
    return (call_state == "ended" and bool(params.get("RecordingUrl")
                                           or params.get("DialCallStatus"))
            and params.get("CallbackSource") != "call-progress-events")


def _refuse_repeated(counts: Mapping[str, int]) -> None:
    for name in _KNOWN:
        if counts.get(name, 0) > 1:
            raise NotificationError(f"the parameter {name!r} is sent twice; Twilio sends "
                                    "it once", name)


def _playable(url: str | None) -> str | None:
    """A ``RecordingUrl`` as a file a prompt can play: Twilio's has no extension and
    serves the same audio at ``.wav`` (``.mp3``) added; a ``<url>`` in a ``msg`` must
    name its format, so an app that plays a recording back works on both carriers."""
    if url is None:
        return None
    try:
        path = urlsplit(url).path.lower()
    except ValueError:                      # "http://[::1" and the like
        raise NotificationError(f"RecordingUrl={url[:40]!r} is not a URL",
                                "RecordingUrl") from None
    return url if path.endswith((".wav", ".mp3", ".gsm")) else url + ".wav"


def _call_state(status: str, dial_call_status: str | None) -> str:
    if status in ENDED:
        return "ended"
    if dial_call_status in ("completed", "answered"):
        # A <Dial> that connected is over: the call ends with it, as a Hoiio transfer does.
        return "ended"
    return "ringing" if status == "ringing" else "ongoing"


def _minutes(params: Mapping[str, str]) -> int | None:
    """Billed minutes: ``Duration``, or ``CallDuration`` seconds rounded up (§5)."""
    for name, per_minute in (("Duration", 1), ("CallDuration", 60)):
        text = params.get(name)
        if text:
            # Nine digits are 31 years: more is no call's, and int() of thousands is slow.
            if not (text.isascii() and text.isdigit() and len(text) <= 9):
                raise NotificationError(f"{name}={text[:20]!r} is not a whole number of "
                                        "seconds", name)
            return -(-int(text) // per_minute)
    return None


def _confidence(params: Mapping[str, str]) -> float | None:
    """A Gather's ``Confidence``, 0.0 to 1.0, sent with ``SpeechResult`` (§3)."""
    text = params.get("Confidence")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:             # also refuses nan and inf
        raise NotificationError(f"Confidence={text[:20]!r} is not a number from 0.0 to 1.0",
                                "Confidence")
    return value


def _timestamp(params: Mapping[str, str]) -> datetime | None:
    text = params.get("Timestamp")
    if not text:
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):   # the last: a year past 9999
        raise NotificationError(f"Timestamp={text[:40]!r} is not an RFC 2822 date",
                                "Timestamp") from None

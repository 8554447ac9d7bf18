"""carriers/hoiio/notifications.py: parsing Hoiio's notification forms, and X-Hoiio-Signature."""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterable
from urllib.parse import parse_qsl

import pytest
from werkzeug.test import EnvironBuilder

from hoiivr.errors import NotificationError, SignatureError
from hoiivr.carriers.hoiio import SIGNATURE_HEADER, compute_signature, parse_notification, \
    verify_signature
from hoiivr.notification import Notification, notification

GMT8 = timezone(timedelta(hours=8))
#: The real captured body of protocol §5 (after a Record block of a dialled call).
CAPTURED = (b"dest=%2B6500000000&session=S3839&tag=&call_state=ongoing&record_url=http%3A%2F%2F"
            b"www.example.com%2Frecordings%2Frec-113.mp3&txn_ref=AA-C-2507650")


def form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


# -- parsing ------------------------------------------------------------------------------

def test_captured_body_parses() -> None:
    note = parse_notification(form(CAPTURED))
    assert note == Notification(session="S3839", call_state="ongoing", txn_ref="AA-C-2507650",
                                tag="", dest="+6500000000",
                                record_url="http://www.example.com/recordings/rec-113.mp3")
    assert note.ivr_block is None and note.duration is None and note.extra == {}
    assert not note.ended


def test_captured_body_parses_from_a_werkzeug_form() -> None:
    environ = EnvironBuilder(method="POST", data=CAPTURED,
                             content_type="application/x-www-form-urlencoded").get_environ()
    from werkzeug.wrappers import Request
    request = Request(environ)
    note = parse_notification(request.form)
    assert note.dest == "+6500000000" and note.session == "S3839" and note.tag == ""


def test_every_field() -> None:
    note = parse_notification({
        "session": "S1", "call_state": "ended", "ivr_block": "transfer", "txn_ref": "AA-C-9",
        "tag": "mytag", "from": "+6511111111", "to": "+6561234567", "dest": "+6522222222",
        "dial_status": "answered", "digits": "123", "record_url": "https://h/r.mp3",
        "transfer_status": "busy", "date": "2012-03-05 05:06:07.0", "duration": "3",
        "currency": "SGD", "rate": "0.020", "debit": "0.060",
    })
    assert note == Notification(
        session="S1", call_state="ended", ivr_block="transfer", txn_ref="AA-C-9", tag="mytag",
        from_number="+6511111111", to_number="+6561234567", dest="+6522222222",
        dial_status="answered", digits="123", record_url="https://h/r.mp3",
        transfer_status="busy", date=datetime(2012, 3, 5, 5, 6, 7, tzinfo=GMT8), duration=3,
        currency="SGD", rate=Decimal("0.020"), debit=Decimal("0.060"))
    assert note.ended
    assert isinstance(note.rate, Decimal) and str(note.rate) == "0.020"
    assert note.date is not None and note.date.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("call_state", ["ringing", "ongoing", "ended"])
def test_call_states(call_state: str) -> None:
    note = parse_notification({"session": "S1", "call_state": call_state})
    assert note.call_state == call_state
    assert note.ended is (call_state == "ended")


def test_incoming_call() -> None:
    note = parse_notification({"session": "S7", "call_state": "ringing",
                                   "ivr_block": "answer", "txn_ref": "AA-C-7", "tag": "",
                                   "from": "+6598765432", "to": "+6561234567"})
    assert (note.from_number, note.to_number, note.ivr_block) == ("+6598765432", "+6561234567",
                                                                   "answer")


@pytest.mark.parametrize("text, moment", [
    ("2012-03-05 05:06:07", datetime(2012, 3, 5, 5, 6, 7, tzinfo=GMT8)),
    ("2012-03-05 05:06:07.0", datetime(2012, 3, 5, 5, 6, 7, tzinfo=GMT8)),
    ("2024-01-01 00:00:00", datetime(2023, 12, 31, 16, 0, 0, tzinfo=timezone.utc)),
])
def test_date_is_gmt8(text: str, moment: datetime) -> None:
    assert parse_notification({"session": "S1", "call_state": "ended",
                                   "date": text}).date == moment


@pytest.mark.parametrize("duration, value", [("0", 0), ("1", 1), ("59", 59), ("007", 7)])
def test_duration(duration: str, value: int) -> None:
    note = parse_notification({"session": "S1", "call_state": "ended", "duration": duration})
    assert note.duration == value and type(note.duration) is int


@pytest.mark.parametrize("text", ["0", "0.020", "1.5", "12.345", "0.000"])
def test_rate_and_debit_are_exact_decimals(text: str) -> None:
    note = parse_notification({"session": "S1", "call_state": "ended", "rate": text,
                                   "debit": text})
    assert note.rate == note.debit == Decimal(text)
    assert str(note.debit) == text


def test_empty_values_read_as_none_or_empty() -> None:
    note = parse_notification({"session": "S1", "call_state": "ended", "date": "",
                                   "duration": "", "rate": "", "debit": "", "digits": "",
                                   "tag": ""})
    assert (note.date, note.duration, note.rate, note.debit) == (None, None, None, None)
    assert note.digits == "" and note.tag == ""


def test_unknown_and_pass_on_fields_go_to_extra() -> None:
    note = parse_notification({"session": "S1", "call_state": "ongoing",
                                   "app_state": "gather", "new_field": "v", "digits": "1"})
    assert note.extra == {"app_state": "gather", "new_field": "v"}
    assert note.digits == "1"


def test_notification_is_frozen() -> None:
    note = parse_notification(form(CAPTURED))
    with pytest.raises(dataclasses.FrozenInstanceError):
        note.session = "S2"  # type: ignore[misc]


@pytest.mark.parametrize("fields, field", [
    ({"call_state": "ongoing"}, "session"),
    ({"session": "", "call_state": "ongoing"}, "session"),
    ({"session": "S1"}, "call_state"),
    ({"session": "S1", "call_state": ""}, "call_state"),
    ({}, "session"),
])
def test_missing_required_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(NotificationError) as info:
        parse_notification(fields)
    assert info.value.field == field
    assert repr(field) in str(info.value)


@pytest.mark.parametrize("session", ["S" + "1" * 64, "S1\n", "S\x00"])
def test_bad_session(session: str) -> None:
    with pytest.raises(NotificationError) as info:
        parse_notification({"session": session, "call_state": "ongoing"})
    assert info.value.field == "session"


@pytest.mark.parametrize("call_state", ["RINGING", "hold", "ended ", "answered"])
def test_bad_call_state(call_state: str) -> None:
    with pytest.raises(NotificationError) as info:
        parse_notification({"session": "S1", "call_state": call_state})
    assert info.value.field == "call_state"
    assert repr(call_state) in str(info.value)


@pytest.mark.parametrize("field, text", [
    ("duration", "abc"), ("duration", "1.5"), ("duration", "-1"), ("duration", " 1"),
    ("duration", "1_0"), ("duration", "\u0661"),
    ("date", "yesterday"), ("date", "2012-03-05"), ("date", "2012-03-05T05:06:07"),
    ("date", "2012-02-30 00:00:00"), ("date", "2012-03-05 05:06:07.x"),
    ("rate", "abc"), ("rate", "NaN"), ("rate", "Infinity"), ("debit", "-inf"), ("debit", "1,5"),
])
def test_bad_value(field: str, text: str) -> None:
    with pytest.raises(NotificationError) as info:
        parse_notification({"session": "S1", "call_state": "ended", field: text})
    assert info.value.field == field
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_value_message_is_short() -> None:
    with pytest.raises(NotificationError) as info:
        parse_notification({"session": "S1", "call_state": "ended", "date": "x" * 10000})
    assert len(str(info.value)) < 200


# -- signatures ------------------------------------------------------------------------------

def hmac_sha256(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 written out from RFC 2104, independent of the hmac module."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def test_compute_matches_rfc_4231_vector() -> None:
    assert compute_signature(b"what do ya want for nothing?", "Jefe") == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


@pytest.mark.parametrize("body", [b"", CAPTURED, b"x" * 10000, "digits=\u20ac".encode()])
@pytest.mark.parametrize("key", ["TOKEN", "", "k" * 100, "t\u00f6ken"])
def test_compute_matches_independent_hmac(body: bytes, key: str) -> None:
    signature = compute_signature(body, key)
    assert signature == hmac_sha256(key.encode("utf-8"), body)
    assert len(signature) == 64 and signature == signature.lower()


def test_verify_accepts_the_right_signature() -> None:
    verify_signature(CAPTURED, compute_signature(CAPTURED, "TOKEN"), "TOKEN")


def test_verify_accepts_uppercase_hex() -> None:
    verify_signature(CAPTURED, compute_signature(CAPTURED, "TOKEN").upper(), "TOKEN")


@pytest.mark.parametrize("position", [0, len(CAPTURED) // 2, len(CAPTURED) - 1])
def test_verify_rejects_one_altered_byte(position: int) -> None:
    signature = compute_signature(CAPTURED, "TOKEN")
    altered = bytearray(CAPTURED)
    altered[position] ^= 0x01
    with pytest.raises(SignatureError):
        verify_signature(bytes(altered), signature, "TOKEN")


@pytest.mark.parametrize("body", [CAPTURED + b"&x=1", CAPTURED[:-1], b""])
def test_verify_rejects_other_bodies(body: bytes) -> None:
    with pytest.raises(SignatureError):
        verify_signature(body, compute_signature(CAPTURED, "TOKEN"), "TOKEN")


@pytest.mark.parametrize("signature", [None, ""])
def test_verify_rejects_missing_header(signature: str | None) -> None:
    with pytest.raises(SignatureError) as info:
        verify_signature(CAPTURED, signature, "TOKEN")
    assert SIGNATURE_HEADER in str(info.value) and "missing" in str(info.value)


def test_verify_rejects_wrong_key() -> None:
    with pytest.raises(SignatureError) as info:
        verify_signature(CAPTURED, compute_signature(CAPTURED, "OTHER"), "TOKEN")
    assert "does not match" in str(info.value)


@pytest.mark.parametrize("change", [lambda s: s[:-1], lambda s: s + "0", lambda s: s[:32],
                                    lambda s: s + s, lambda s: "0"])
def test_verify_rejects_different_length(change: Callable[[str], str]) -> None:
    with pytest.raises(SignatureError):
        verify_signature(CAPTURED, change(compute_signature(CAPTURED, "TOKEN")), "TOKEN")


@pytest.mark.parametrize("signature", [
    "\u00e9" * 64, "\u20ac" * 64, "\U0001f600" * 16, "\u0130" * 64, "\u212a" * 64,
    "\uff41" * 64, "\udcff" * 64,
])
def test_verify_rejects_non_ascii_without_type_error(signature: str) -> None:
    with pytest.raises(SignatureError):
        verify_signature(CAPTURED, signature, "TOKEN")


def test_verify_rejects_right_signature_with_a_non_ascii_character() -> None:
    good = compute_signature(CAPTURED, "TOKEN")
    for bad in (good[:-1] + "\u00e9", "\u00e9" + good[1:], good[:10] + "\u20ac" + good[11:]):
        with pytest.raises(SignatureError):
            verify_signature(CAPTURED, bad, "TOKEN")


@pytest.mark.parametrize("keys", [lambda: ["OLD", "NEW"], lambda: ("NEW", "OLD"),
                                  lambda: iter(["X", "OLD"]), lambda: (k for k in ["OLD"])])
def test_verify_accepts_any_key_of_a_list(keys: Callable[[], Iterable[str]]) -> None:
    verify_signature(CAPTURED, compute_signature(CAPTURED, "OLD"), keys())


def test_verify_key_list_rotation_both_ways() -> None:
    for signer in ("OLD", "NEW"):
        verify_signature(CAPTURED, compute_signature(CAPTURED, signer), ["OLD", "NEW"])
    with pytest.raises(SignatureError):
        verify_signature(CAPTURED, compute_signature(CAPTURED, "GONE"), ["OLD", "NEW"])


def test_verify_with_no_keys_rejects() -> None:
    with pytest.raises(SignatureError):
        verify_signature(CAPTURED, compute_signature(CAPTURED, "TOKEN"), [])


def test_signature_error_is_a_notification_error() -> None:
    with pytest.raises(NotificationError):
        verify_signature(CAPTURED, None, "TOKEN")


def test_the_carriers_builder_makes_the_same_notification_as_the_dataclass() -> None:
    made = notification("S1", "ended", {"x": "1"}, digits="12", duration=3, final=False)
    same = Notification(session="S1", call_state="ended", extra={"x": "1"}, digits="12",
                        duration=3, final=False)
    assert made == same and repr(made) == repr(same)
    assert dataclasses.replace(made, digits="9").digits == "9"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.digits = "9"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field digit"):
        notification("S1", "ongoing", {}, digit="1")

"""tokens.py: signed notify-URL tickets (itsdangerous), rotation, expiry and clock skew."""
from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode

from hoiivr import tokens
from hoiivr.errors import ConfigError, NotificationError, TokenError
from hoiivr.tokens import NotifyTokens, Ticket

T0 = 1_700_000_000.0
TICKET = Ticket(call="S3839", seq=4, block="gather", step="menu")


class Clock:
    """``time.time`` frozen at ``now``; itsdangerous and tokens.py both read ``time.time()``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(T0)
    monkeypatch.setattr(time, "time", frozen)
    return frozen


@pytest.mark.parametrize("ticket", [TICKET, Ticket("S1", 0, "answer"), Ticket("S1", 1, "dial"),
                                    Ticket("S" + "9" * 40, 10**9, "transfer", "sales.team")])
def test_round_trip(ticket: Ticket) -> None:
    signer = NotifyTokens("secret")
    token = signer.dumps(ticket)
    assert isinstance(token, str)
    assert signer.loads(token) == ticket


def test_token_is_url_safe() -> None:
    token = NotifyTokens("secret").dumps(TICKET)
    assert all(c.isalnum() or c in "-_." for c in token)


def test_same_key_other_instance_loads() -> None:
    assert NotifyTokens(b"secret").loads(NotifyTokens("secret").dumps(TICKET)) == TICKET


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("part", [0, 1, 2])           # payload, timestamp, signature
def test_every_single_character_change_is_rejected(part: int) -> None:
    signer = NotifyTokens("secret")
    parts = signer.dumps(TICKET).split(".")
    assert len(parts) == 3
    for where, original in enumerate(parts[part]):
        for replacement in B64.replace(original, ""):
            altered = list(parts)
            altered[part] = parts[part][:where] + replacement + parts[part][where + 1:]
            with pytest.raises(TokenError) as info:
                signer.loads(".".join(altered))
            assert info.value.reason == "invalid"


@pytest.mark.parametrize("part", [0, 1, 2])
@pytest.mark.parametrize("character", ["+", "/", "=", "!", " ", "\u00e9"])
def test_a_character_outside_url_safe_base64_is_rejected(part: int, character: str) -> None:
    # Standard base64's + and /, padding, or anything else, in place of a character or
    # added to a part: refused as not signed, never a 500.
    signer = NotifyTokens("secret")
    parts = signer.dumps(TICKET).split(".")
    for altered_part in (character + parts[part][1:], parts[part] + character):
        altered = list(parts)
        altered[part] = altered_part
        with pytest.raises(TokenError) as info:
            signer.loads(".".join(altered))
        assert info.value.reason == "invalid"


def test_a_signature_changed_only_in_its_padding_bits_is_rejected() -> None:
    """The last base64 character of a 20-byte signature has 2 bits that decoding ignores."""
    signer = NotifyTokens("secret")
    token = signer.dumps(TICKET)
    last = B64.index(token[-1])
    for padding in (1, 2, 3):
        variant = token[:-1] + B64[last ^ padding]
        assert base64_decode(variant.rpartition(".")[2]) == base64_decode(token.rpartition(".")[2])
        with pytest.raises(TokenError):
            signer.loads(variant)


@pytest.mark.parametrize("token", ["", "x", "a.b.c", "not a token at all", "\u00e9.\u00e9.\u00e9"])
def test_garbage_rejected(token: str) -> None:
    with pytest.raises(TokenError):
        NotifyTokens("secret").loads(token)


def test_other_key_rejected() -> None:
    token = NotifyTokens("someone-else").dumps(TICKET)
    with pytest.raises(TokenError) as info:
        NotifyTokens("secret").loads(token)
    assert info.value.reason == "invalid"
    assert isinstance(info.value, NotificationError)


def test_other_salt_rejected() -> None:
    token = URLSafeTimedSerializer("secret", salt="another.purpose").dumps(
        ["S1", 1, "play", None])
    with pytest.raises(TokenError):
        NotifyTokens("secret").loads(token)


def test_fallback_key_still_verifies() -> None:
    old_token = NotifyTokens("old").dumps(TICKET)
    rotated = NotifyTokens("new", fallback_keys=["older", "old"])
    assert rotated.loads(old_token) == TICKET
    # New tokens are signed with the newest key only: a signer without it refuses them.
    new_token = rotated.dumps(TICKET)
    assert NotifyTokens("new").loads(new_token) == TICKET
    with pytest.raises(TokenError):
        NotifyTokens("old").loads(new_token)


def test_retired_key_rejected() -> None:
    token = NotifyTokens("retired").dumps(TICKET)
    with pytest.raises(TokenError):
        NotifyTokens("new", fallback_keys=["old"]).loads(token)


def test_payload_that_is_not_a_ticket_rejected() -> None:
    signer = NotifyTokens("secret")
    for payload in ({"call": "S1"}, ["S1", "4", "play", None], ["S1", 4, "play"], "S1"):
        with pytest.raises(TokenError):
            signer.loads(signer.serializer.dumps(payload))


def test_expired_rejected(clock: Clock) -> None:
    signer = NotifyTokens("secret", max_age=60)
    token = signer.dumps(TICKET)
    clock.now = T0 + 60
    assert signer.loads(token) == TICKET
    clock.now = T0 + 61
    with pytest.raises(TokenError) as info:
        signer.loads(token)
    assert info.value.reason == "expired"
    assert "expired" in str(info.value)


def test_default_max_age_is_a_day(clock: Clock) -> None:
    signer = NotifyTokens("secret")
    token = signer.dumps(TICKET)
    clock.now = T0 + 86400
    assert signer.loads(token) == TICKET
    clock.now = T0 + 86401
    with pytest.raises(TokenError) as info:
        signer.loads(token)
    assert info.value.reason == "expired"


@pytest.mark.parametrize("skew", [1, 3, tokens.CLOCK_SKEW])
def test_small_future_skew_accepted(clock: Clock, skew: int) -> None:
    # Signed by a worker whose clock runs ``skew`` seconds ahead of this one.
    clock.now = T0 + skew
    token = NotifyTokens("secret").dumps(TICKET)
    clock.now = T0
    assert NotifyTokens("secret").loads(token) == TICKET


@pytest.mark.parametrize("skew", [tokens.CLOCK_SKEW + 1, 60, 86400 * 365])
def test_large_future_skew_rejected(clock: Clock, skew: int) -> None:
    clock.now = T0 + skew
    token = NotifyTokens("secret").dumps(TICKET)
    clock.now = T0
    with pytest.raises(TokenError):
        NotifyTokens("secret").loads(token)


def test_skewed_token_signed_with_another_key_rejected(clock: Clock) -> None:
    clock.now = T0 + 2
    token = NotifyTokens("someone-else").dumps(TICKET)
    clock.now = T0
    with pytest.raises(TokenError) as info:
        NotifyTokens("secret").loads(token)
    assert info.value.reason == "invalid"


@pytest.mark.parametrize("key", ["", b"", None])
def test_missing_secret_key(key: str | bytes | None) -> None:
    with pytest.raises(ConfigError) as info:
        NotifyTokens(key)  # type: ignore[arg-type]
    assert "SECRET_KEY" in str(info.value)


@pytest.mark.parametrize("step", ["menu", "x" * 300])   # the long one compresses well
def test_tokens_are_plain_itsdangerous_tokens(step: str) -> None:
    # Workers running another hoiivr version during a deploy must read each other's tokens.
    plain = URLSafeTimedSerializer(["old", "secret"], salt=tokens.SALT)
    ticket = Ticket("S3839", 4, "gather", step)
    ours = NotifyTokens("secret", ["old"])
    assert plain.loads(ours.dumps(ticket)) == ["S3839", 4, "gather", step]
    assert ours.loads(plain.dumps(["S3839", 4, "gather", step])) == ticket
    assert NotifyTokens("old").loads(URLSafeTimedSerializer("old", salt=tokens.SALT).dumps(
        ["S3839", 4, "gather", step])) == ticket

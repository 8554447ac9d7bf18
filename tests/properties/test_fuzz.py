"""The notification endpoints under arbitrary input: bodies, headers, tokens and sizes.

Whatever arrives, the app answers without a 500, and nothing but a notification that is
correctly signed, parses, and announces a call at the answer URL creates state or reaches
Hoiio's API. Driven through Flask's test client; the store and the client are doubles that
count what they are asked to do.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from hoiivr.carriers.hoiio import SIGNATURE_HEADER, compute_signature, parse_notification
from hoiivr.carriers.hoiio import parse_form as _form
from hoiivr.carriers.hoiio.notifications import MAX_FIELDS
from hoiivr.client import Response
from hoiivr.errors import NotificationError
from hoiivr.web import MAX_BODY
from hoiivr.stores import MemoryStore
from hoiivr.tokens import SALT, NotifyTokens, Ticket
from e2e.design_app import create_app

from .harness import SECRET, TOKEN

FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None)
FIELDS = ["session", "call_state", "ivr_block", "txn_ref", "tag", "from", "to", "dest",
          "dial_status", "digits", "record_url", "transfer_status", "date", "duration",
          "currency", "rate", "debit"]
TRICKY = ["ringing", "ongoing", "ended", "answer", "gather", "record", "transfer", "S1", "",
          "NaN", "Infinity", "-1", "1e999999", "0.0200", "2025-01-01 09:00:00",
          "2025-13-45 25:61:61.0", "\x00", "%zz", "+6591234567", "\u202e", "a" * 300]


class CountingStore(MemoryStore):
    """A memory store that counts writes: any write is state created."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def put(self, key: str, record: dict[str, Any], ttl: float | None = None) -> None:
        self.writes += 1
        super().put(key, record, ttl)


class CountingClient:
    """Answers every block with success, and counts them."""

    access_token = TOKEN          # the key of X-Hoiio-Signature

    def __init__(self) -> None:
        self.sent = 0

    def send(self, block: Any, session: str | None = None,
             notify_url: str | None = None) -> Response:
        self.sent += 1
        return Response(block.endpoint, {}, {"status": "success_ok"})

    def close(self) -> None:
        pass


@dataclass
class Target:
    app: Flask
    store: CountingStore
    client: CountingClient

    def reset(self) -> None:
        self.store, self.client = CountingStore(), CountingClient()
        ivr = self.app.extensions["hoiivr"].handlers
        ivr.init_app(self.app, store=self.store, client=self.client)


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    app = create_app(HOIIVR_PUBLIC_URL="http://app.test")
    t = Target(app, CountingStore(), CountingClient())
    yield t
    app.extensions["hoiivr"].close()


# -- strategies -------------------------------------------------------------------------------

values = st.one_of(st.sampled_from(TRICKY), st.text(max_size=40))
forms = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), values,
                        max_size=20)
plausible = st.fixed_dictionaries(
    {"session": st.sampled_from(["S1", "S2", "D1"]),
     "call_state": st.sampled_from(["ringing", "ongoing", "ended", "busy"])},
    optional={name: values for name in FIELDS[2:]})
oversized = st.integers(MAX_BODY - 40, MAX_BODY + 2048).map(
    lambda n: b"session=S1&call_state=ringing&tag=" + b"a" * n)
bodies = st.one_of(
    forms.map(lambda f: urlencode(f).encode()),
    plausible.map(lambda f: urlencode(f).encode()),
    st.binary(max_size=1024),
    st.text(max_size=256).map(lambda t: t.encode("utf-8", "surrogatepass")),
    oversized,
)
tickets = st.builds(Ticket, st.text(max_size=20), st.integers(-2, 2**40),
                    st.sampled_from(["answer", "dial", "gather", "record", "play", "hold", "x"]),
                    st.one_of(st.none(), st.text(max_size=10)))
tokens = st.one_of(
    tickets.map(NotifyTokens(SECRET).dumps),                         # ours, for no known call
    tickets.map(NotifyTokens("another-secret").dumps),               # forged
    st.recursive(st.none() | st.integers() | st.text(max_size=8),    # ours, but not a ticket
                 lambda inner: st.lists(inner, max_size=5), max_leaves=8).map(
        URLSafeTimedSerializer(SECRET, salt=SALT).dumps),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.", max_size=120),
    st.text(max_size=60).map(lambda t: quote(t, safe="")),
)
paths = st.one_of(st.just("/hoiio/answer"), tokens.map(lambda t: "/hoiio/notify/" + t))
latin1 = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=60)
header_names = st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=20).filter(
    lambda n: n.lower() not in ("content-length", "content-type", "host", "transfer-encoding",
                                SIGNATURE_HEADER.lower()))
content_types = st.sampled_from([None, "application/x-www-form-urlencoded", "application/json",
                                 "text/plain", "multipart/form-data; boundary=x",
                                 "application/x-www-form-urlencoded; charset=latin-1"])
signatures = st.sampled_from(["good", "none", "wrong", "garbage", "upper", "twice"])


def _headers(body: bytes, how: str, garbage: str, content_type: str | None,
             extra: dict[str, str]) -> list[tuple[str, str]]:
    good = compute_signature(body, TOKEN)
    headers = list(extra.items())
    if content_type:
        headers.append(("Content-Type", content_type))
    given_signature = {"good": [good], "none": [], "wrong": [compute_signature(body, "x")],
                       "garbage": [garbage], "upper": [f" {good.upper()} "],
                       "twice": [compute_signature(body, "x"), good]}[how]
    headers += [(SIGNATURE_HEADER, value) for value in given_signature]
    return headers


def _announces_a_call(path: str, body: bytes) -> bool:
    """A body the answer URL may act on: a notification that parses."""
    if path != "/hoiio/answer" or len(body) > MAX_BODY:
        return False
    try:
        return parse_notification(_form(body)).call_state in ("ringing", "ended")
    except NotificationError:
        return False


@FUZZ
@given(path=paths, body=bodies, how=signatures, garbage=latin1, content_type=content_types,
       extra=st.dictionaries(header_names, latin1, max_size=4),
       method=st.sampled_from(["POST"] * 6 + ["GET", "PUT"]))
def test_no_input_is_a_500_or_creates_state_unless_signed(
        target: Target, tally: Any, path: str, body: bytes, how: str, garbage: str,
        content_type: str | None, extra: dict[str, str], method: str) -> None:
    target.reset()
    headers = _headers(body, how, garbage, content_type, extra)
    with target.app.test_client() as http:
        reply = http.open(path, method=method, data=body, headers=headers)
    signed = how in ("good", "upper")          # the first signature header is the one read
    changed = not (signed and method == "POST" and _announces_a_call(path, body)) and \
        (target.store.writes or target.client.sent)
    tally.add("fuzzed requests (bodies, headers, tokens, sizes, methods)", 1,
              int(reply.status_code >= 500) + int(bool(changed)))
    assert reply.status_code < 500, reply.get_data(as_text=True)
    if not (signed and method == "POST" and _announces_a_call(path, body)):
        assert target.store.writes == 0 and target.client.sent == 0
    if not signed and method == "POST":
        assert reply.status_code in (403, 404, 413)    # 404: a token the route cannot hold
    if method != "POST":
        assert reply.status_code in (404, 405)


@FUZZ
@given(form=st.one_of(forms, plausible), token=tokens)
def test_signed_notifications_for_no_known_call_change_nothing(
        target: Target, form: dict[str, str], token: str) -> None:
    target.reset()
    body = urlencode(form).encode()
    with target.app.test_client() as http:
        reply = http.post("/hoiio/notify/" + token, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            SIGNATURE_HEADER: compute_signature(body, TOKEN)})
    assert reply.status_code in (200, 400, 403, 404), reply.get_data(as_text=True)
    assert target.store.writes == 0 and target.client.sent == 0


@FUZZ
@given(body=st.one_of(st.binary(max_size=200),
                      st.text("ab=&%+2BFfé\x00 ", max_size=80).map(str.encode)))
def test_the_body_parser_reads_fields_as_parse_qsl_does(body: bytes) -> None:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        pairs = None
    if pairs is None or len({name for name, _ in pairs}) < len(pairs):
        with pytest.raises(NotificationError):       # not form data, or a name sent twice
            _form(body)
        return
    assert _form(body) == dict(pairs)

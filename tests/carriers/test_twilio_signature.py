"""The Twilio carrier's signature check accepts exactly what the ``twilio`` package's
``RequestValidator.validate`` accepts, on requests Twilio could send and on forged ones,
once the URL's ``user:password@`` is left out: Twilio never signs it (TWIML.md §2)."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from hoiivr.carriers.twilio.signature import is_valid

TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"

names = st.sampled_from(["CallSid", "From", "To", "Digits", "digits", "Caller", "Sid",
                         "SidAccount", "ÄpiVersion", ""])
values = st.text(max_size=12)
forms = st.lists(st.tuples(names, values), max_size=8)
hosts = st.sampled_from(["ivr.example", "127.0.0.1", "user:pw@ivr.example", "IVR.example"])
ports = st.sampled_from(["", ":80", ":443", ":8443", ":0"])
paths = st.sampled_from(["", "/twilio/answer", "/twilio/notify/WyJD.abc_-", "/a;b", "/ä"])
queries = st.sampled_from(["", "?foo=1&bar=2", "?x=%20+y"])


@st.composite
def requests_(draw: Any) -> tuple[str, list[tuple[str, str]], str, str]:
    """A URL, a form, a secret, and a signature: Twilio's over this URL or another (with or
    without a port, another host), over other parameters, with another secret, or garbage."""
    scheme, path, query = (draw(st.sampled_from(["http", "https"])), draw(paths),
                           draw(queries))

    def url_of(host: str, port: str) -> str:
        return f"{scheme}://{host}{port}{path}{query}"

    def mostly(value: Any, *others: Any) -> Any:      # so that many signatures are right
        return draw(st.sampled_from([value, value, value, *others]))

    host, port = draw(hosts), draw(ports)
    url, pairs = url_of(host, port), draw(forms)
    signed_url = url_of(mostly(host, draw(hosts)), mostly(port, draw(ports), draw(ports)))
    signed_pairs = mostly(pairs, pairs[1:], pairs + [("Digits", "9")])
    secret = mostly(TOKEN, "another-token")
    signature = mostly(RequestValidator(TOKEN).compute_signature(signed_url,
                                                                 MultiDict(signed_pairs)),
                       draw(st.text(max_size=30)))
    return url, pairs, secret, signature


def twilio_says(url: str, pairs: list[tuple[str, str]], signature: str, secret: str,
                algorithm: str = "HMAC_SHA1") -> bool:
    """``validate``'s verdict on the URL as Twilio signs it, without its credentials."""
    return bool(RequestValidator(secret).validate(url.replace("user:pw@", ""),
                                                  MultiDict(pairs), signature,
                                                  algorithm=algorithm))


@settings(max_examples=300)
@given(requests_())
@example((VECTOR_URL, [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"),
                       ("Digits", "1234"), ("From", "+14158675309"), ("To", "+18005551212")],
          TOKEN, "RSOYDt4T1cUTdK1PDd93/VVr8B8="))
@example((VECTOR_URL, [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
                       ("Digits", "1234"), ("Digits", "1234")],
          TOKEN, "IK+Dwps556ElfBT0I3Rgjkr1wJU="))
def test_it_accepts_what_request_validator_accepts(
        case: tuple[str, list[tuple[str, str]], str, str]) -> None:
    url, pairs, secret, signature = case
    accepted = twilio_says(url, pairs, signature, secret)
    event(f"RequestValidator accepts: {accepted}")
    assert is_valid(url, pairs, signature, secret) == accepted


@pytest.mark.parametrize("public, signed", [
    ("https://user:pw@ivr.example", "https://ivr.example"),
    ("https://user:pw@ivr.example:8443", "https://ivr.example"),
    ("https://user:pw@ivr.example:8443", "https://ivr.example:8443"),
    ("http://user:pw@ivr.example:8080", "http://ivr.example:8080"),
    ("http://user:pw@[::1]:8080", "http://[::1]"),
])
def test_a_url_with_credentials_is_checked_as_twilio_signs_it(public: str, signed: str) -> None:
    pairs = [("CallSid", "CA1"), ("Digits", "1")]
    signature = RequestValidator(TOKEN).compute_signature(signed + "/twilio/answer",
                                                          MultiDict(pairs))
    assert is_valid(public + "/twilio/answer", pairs, signature, TOKEN)
    # Signed with the credentials in it, it is no URL Twilio signs.
    with_them = RequestValidator(TOKEN).compute_signature(public + "/twilio/answer",
                                                          MultiDict(pairs))
    assert not is_valid(public + "/twilio/answer", pairs, with_them, TOKEN)


def test_the_documented_vectors_pass_and_a_changed_value_does_not() -> None:
    """TWIML.md §2's vectors, from twilio-python's tests: one name sent with two values, one
    of them twice, signs each distinct value once, sorted."""
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
                ("Digits", "1234"), ("Digits", "1234")]
    assert is_valid(VECTOR_URL, repeated, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", TOKEN)
    assert not is_valid(VECTOR_URL, repeated[:-1] + [("Digits", "1235")],
                        "IK+Dwps556ElfBT0I3Rgjkr1wJU=", TOKEN)


@given(requests_())
def test_shared_key_signatures_match_too(
        case: tuple[str, list[tuple[str, str]], str, str]) -> None:
    url, pairs, secret, _ = case
    signature = RequestValidator(TOKEN).compute_signature(url, MultiDict(pairs), "HMAC_SHA256")
    assert is_valid(url, pairs, signature, secret, "sha256") == twilio_says(
        url, pairs, signature, secret, "HMAC_SHA256")

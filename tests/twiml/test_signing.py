"""The simulator signs webhooks as Twilio does: TWIML.md §2's vectors, and agreement with the
``twilio`` package's own RequestValidator (which the simulator does not import)."""
from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from hoiivr.simulator.twiml import signing

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"),
                 ("Digits", "1234"), ("From", "+14158675309"), ("To", "+18005551212")]


def test_the_documented_vector() -> None:
    assert signing.compute(VECTOR_URL, VECTOR_PARAMS, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_documented_vector_with_a_repeated_name() -> None:
    """Each distinct value of a repeated name, in sorted order, once."""
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
              ("Digits", "1234"), ("Digits", "1234")]
    assert signing.compute(VECTOR_URL, params, "12345") == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize("params", [
    [],
    [("Body", "héllo wörld ☎"), ("From", "client:alice"), ("to", "lower-case sorts last")],
    [("A", ""), ("B", "x"), ("B", "a"), ("Z", "&=?")],
])
@pytest.mark.parametrize("algorithm", [signing.HMAC_SHA1, signing.HMAC_SHA256])
def test_twilios_own_validator_accepts_what_the_simulator_signs(
        params: list[tuple[str, str]], algorithm: str) -> None:
    url = "http://127.0.0.1:5000/twilio/answer?x=1"
    signature = signing.compute(url, params, "token", algorithm)
    validator = RequestValidator("token")
    assert validator.validate(url, MultiDict(params), signature, algorithm=algorithm)
    assert not RequestValidator("other").validate(url, MultiDict(params), signature,
                                                  algorithm=algorithm)
    assert not validator.validate(url + "2", MultiDict(params), signature, algorithm=algorithm)


@pytest.mark.parametrize("url, signed", [
    ("https://user:pass@ivr.example:8443/answer?a=1", "https://ivr.example/answer?a=1"),
    ("https://ivr.example/answer", "https://ivr.example/answer"),
    ("http://user:pass@127.0.0.1:5000/answer", "http://127.0.0.1:5000/answer"),
    ("http://[::1]:5000/a", "http://[::1]:5000/a"),
    ("https://[::1]:8443/a", "https://[::1]/a"),
])
def test_the_url_signed_has_no_credentials_and_no_https_port(url: str, signed: str) -> None:
    assert signing.signing_url(url) == signed


def test_a_shared_key_says_which_key_signed() -> None:
    assert signing.settings_header("KS1") == "key=KS1,algorithm=HMAC_SHA256"

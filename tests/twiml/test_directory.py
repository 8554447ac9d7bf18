"""Twilio accounts and TwiML numbers in the simulator's directory."""
from __future__ import annotations

import re

import pytest

from hoiivr.simulator import SimulatorError
from hoiivr.simulator.accounts import Directory

SID = "AC" + "0" * 32


def test_an_account_has_twilios_id_and_a_token_even_when_none_is_given() -> None:
    directory = Directory()
    account = directory.add_twilio_account()
    assert re.fullmatch(r"AC[0-9a-f]{32}", account.sid)
    assert re.fullmatch(r"[0-9a-f]{32}", account.auth_token)
    assert directory.twilio_account(account.sid) is account
    assert directory.accounts == {}           # not a Hoiio account: no /open/ with it
    given = directory.add_twilio_account(SID, "token", shared_key=("KS1", "s"), cps=5)
    assert (given.sid, given.auth_token, given.shared_key, given.cps) == \
        (SID, "token", ("KS1", "s"), 5.0)
    assert given.to_json()["shared_key"] == "KS1"      # the id, never the secret
    assert "token" not in str(given.to_json())


@pytest.mark.parametrize("sid", ["AC123", "ac" + "0" * 32, "AC" + "G" * 32, "AC" + "0" * 33])
def test_a_sid_not_in_twilios_shape_is_refused(sid: str) -> None:
    with pytest.raises(SimulatorError, match="AccountSid"):
        Directory().add_twilio_account(sid)


def test_a_twiml_number_belongs_to_an_account_and_a_number_is_of_one_kind() -> None:
    directory = Directory()
    with pytest.raises(SimulatorError, match="add a Twilio account first"):
        directory.add_twiml_number("+6560000000", "http://app.test/voice")
    directory.add_account("APP", "TOKEN")
    directory.add_number("+6560000000", "http://app.test/hoiio/answer")
    directory.add_twilio_account(SID, "token")
    entry = directory.add_twiml_number("+6560000000", "http://app.test/voice",
                                       voice_method="get", status_callback="http://app.test/s")
    assert (entry.account_sid, entry.voice_method) == (SID, "GET")
    assert "+6560000000" not in directory.numbers
    directory.add_number("+6560000000", "http://app.test/hoiio/answer")
    assert "+6560000000" not in directory.twiml_numbers


@pytest.mark.parametrize("options, message", [
    ({"voice_url": "ftp://x"}, "url="),
    ({"voice_url": "http://a", "voice_method": "PUT"}, "GET or POST"),
    ({"voice_url": "http://a", "account_sid": "AC" + "1" * 32}, "no Twilio account"),
    ({"voice_url": "http://a", "status_callback": "nope"}, "status_callback="),
])
def test_bad_number_settings_say_how_to_fix_them(options: dict, message: str) -> None:
    directory = Directory()
    directory.add_twilio_account(SID, "token")
    with pytest.raises(SimulatorError, match=message):
        directory.add_twiml_number("+6560000000", **options)

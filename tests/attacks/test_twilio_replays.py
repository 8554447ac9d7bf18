"""On Twilio the signature covers the URL: a step's genuine webhook replayed to another
step's URL, or with a forged Host, reaches no handler."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from twilio.request_validator import RequestValidator

from hoiivr import IVR, Gather, Hangup
from hoiivr.testing import LiveServer

SID, TOKEN = "AC" + "0" * 32, "twilio-token"


@pytest.fixture
def twilio_app() -> Iterator[tuple[LiveServer, list[str]]]:
    app = Flask("twilio_replay_app")
    runs: list[str] = []
    server = LiveServer(app)
    server.bind()
    app.config.update(HOIIVR_CARRIER="twilio", TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN,
                      SECRET_KEY="secret")          # no HOIIVR_PUBLIC_URL: the Host is read
    ivr = IVR(app)
    ivr.on_answer(lambda call: runs.append("answer") or Gather("Press.", name="menu"))
    ivr.on_gather("menu")(lambda call: runs.append(f"menu {call.digits}") or
                          (Gather("Again.", name="menu") if call.digits == "1" else Hangup()))
    with server:
        yield server, runs
    app.extensions["hoiivr"].close()


def post(url: str, params: dict[str, str], signed_for: str | None = None,
         host: str | None = None) -> requests.Response:
    signature = RequestValidator(TOKEN).compute_signature(signed_for or url, params)
    headers = {"X-Twilio-Signature": signature, **({"Host": host} if host else {})}
    return requests.post(url, data=urlencode(params), headers=headers, timeout=10)


def action(response: requests.Response) -> str:
    gather = ElementTree.fromstring(response.content).find("Gather")
    assert gather is not None, response.text
    return gather.get("action", "")


def test_a_webhook_replayed_to_another_steps_url_or_with_a_forged_host_is_refused(
        twilio_app: tuple[LiveServer, list[str]], tally: Any) -> None:
    server, runs = twilio_app
    bad = 0
    for n in range(10):
        call = {"CallSid": f"CA{n:032x}", "From": "+6591234567", "To": "+6560000000"}
        first = action(post(server.url + "/twilio/answer", {**call, "CallStatus": "ringing"}))
        step1 = {**call, "CallStatus": "in-progress", "Digits": "1"}
        second = action(post(first, step1))
        runs.clear()
        replayed = post(second, step1, signed_for=first)       # step 1's genuine signature
        # The genuine ringing, signed for the app's own URL, sent with another Host: had it
        # passed, the notify URLs of the new call would point at that host.
        forged_host = post(server.url + "/twilio/answer",
                           {**call, "CallSid": f"CB{n:032x}", "CallStatus": "ringing"},
                           host="evil.example")
        bad += int(replayed.status_code != 403) + int(forged_host.status_code != 403) + len(runs)
        assert post(second, {**step1, "Digits": "2"}).status_code == 200
    tally.add("a step's signed webhook replayed elsewhere, or a forged Host (Twilio)", 20, bad)
    assert bad == 0

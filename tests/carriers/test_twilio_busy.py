"""A Twilio REST request refused as busy (HTTP 429, error 20429: "never processed and is
always safe to retry") is sent again after a short wait; no other failure ever is.

The Calls API here is a small Flask app on a real loopback socket, reached by the client
``TwilioCarrier.from_settings`` builds (twilio's own ``TwilioHttpClient``).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request

from hoiivr import IVR, ApiError, Hangup, Play
from hoiivr.testing import LiveServer

SID, TOKEN = "AC" + "0" * 32, "twilio-token"
CALL = "CA" + "2" * 32


class CallsApi:
    """Answers each ``POST .../Calls.json`` with the next of ``replies`` (status, headers),
    then 201 with a call; records when each request came."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, str]]] = []
        self.hits: list[float] = []
        self.app = Flask("calls_api")
        self.app.add_url_rule(f"/2010-04-01/Accounts/{SID}/Calls.json", "create",
                              self.create, methods=["POST"])

    def create(self) -> Any:
        self.hits.append(time.monotonic())
        assert request.form["To"] == "+6598765432"
        if self.replies:
            status, headers = self.replies.pop(0)
            error = {"code": 20429 if status == 429 else 20500, "status": status,
                     "message": "Too Many Requests", "more_info": ""}
            return jsonify(error), status, headers
        return jsonify({"sid": CALL, "account_sid": SID, "status": "queued",
                        "to": "+6598765432", "from": "+6560000000"}), 201


@pytest.fixture
def api() -> Iterator[CallsApi]:
    calls = CallsApi()
    server = LiveServer(calls.app, quiet=True)
    server.start()
    calls.url = server.url  # type: ignore[attr-defined]
    yield calls
    server.stop()


@pytest.fixture
def ivr(api: CallsApi) -> tuple[Flask, IVR]:
    app = Flask("busy_app")
    app.config.update(HOIIVR_CARRIER="twilio", TWILIO_ACCOUNT_SID=SID,
                      TWILIO_AUTH_TOKEN=TOKEN, TWILIO_FROM_NUMBER="+6560000000",
                      TWILIO_API_URL=api.url,  # type: ignore[attr-defined]
                      SECRET_KEY="secret", HOIIVR_PUBLIC_URL="https://ivr.example")
    ivr = IVR(app)

    @ivr.on_dial_answered
    def answered(call: Any) -> list[Any]:
        return [Play("Hello."), Hangup()]

    return app, ivr


def dial(app: Flask, ivr: IVR) -> Any:
    with app.app_context():
        return ivr.dial("+6598765432")


def test_a_call_refused_as_busy_is_placed_after_a_short_backoff(
        api: CallsApi, ivr: tuple[Flask, IVR]) -> None:
    api.replies = [(429, {}), (429, {})]
    placed = dial(*ivr)
    assert placed.session == CALL and len(api.hits) == 3
    # Backed off, not hammered: 0.125-0.25 s, then 0.25-0.5 s.
    assert api.hits[1] - api.hits[0] >= 0.12 and api.hits[2] - api.hits[1] >= 0.24


def test_a_busy_refusal_waits_its_retry_after(api: CallsApi, ivr: tuple[Flask, IVR]) -> None:
    api.replies = [(503, {"Retry-After": "1"})]
    assert dial(*ivr).session == CALL
    assert len(api.hits) == 2 and api.hits[1] - api.hits[0] >= 0.95


@pytest.mark.parametrize("replies", [
    [(429, {})] * 3,                                  # still busy after two more tries
    [(429, {"Retry-After": "60"})],                   # longer than a caller can wait
    [(503, {})],                                      # may have been carried out
    [(500, {})],
])
def test_no_other_failure_is_sent_again(api: CallsApi, ivr: tuple[Flask, IVR],
                                        replies: list[tuple[int, dict[str, str]]]) -> None:
    api.replies = list(replies)
    with pytest.raises(ApiError):
        dial(*ivr)
    assert len(api.hits) == min(len(replies), 3)

"""Phone calls the app and the simulator directly (WSGISession, no requests, no socket), and
still shows what went wrong on the way: an injected dropped connection, an app that
raised, a Twilio app with credentials of its own."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
from flask import Flask

from hoiivr import IVR, Gather, Hangup
from hoiivr.testing import Phone

CARRIERS = ["hoiio", "twilio"]


def menu_app(carrier: str, **config: Any) -> Flask:
    app = Flask(f"transport_{carrier}")
    app.config.update(HOIIVR_CARRIER=carrier, **config)
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        return Gather("Press 1.", max_digits=1, name="menu")

    @ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        if call.digits == "9":
            ivr.dial("+6581234567", msg="Your reminder.")
        return Hangup("Goodbye.")

    return app


@pytest.fixture
def no_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any request sent through requests fails the test."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a Phone call went through requests")
    monkeypatch.setattr(requests.Session, "send", refuse)
    yield


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_call_and_a_dial_need_no_requests_session(carrier: str, no_requests: None) -> None:
    with Phone(menu_app(carrier)) as phone:
        call = phone.call().press("9")
        assert call.last_prompt == "Goodbye." and call.call_state == "ended"
        (dialled,) = phone.dialled
        assert dialled.prompts[0] == "Your reminder."


def test_a_dropped_rest_connection_is_in_the_timeline_as_before() -> None:
    with Phone(menu_app("hoiio")) as phone:
        phone.set_faults(rest_drop=1.0, seed=1)
        call = phone.call()
        timeline = call.describe()
    assert call.call_state == "ended"
    assert ("fault=rest_drop detail=REST connection dropped (injected): the request was "
            "carried out, no reply was sent endpoint=ivr/middle/gather") in timeline
    assert ("HoiioCarrier.deliver raised NetworkError: the connection to Hoiio broke during "
            "ivr/middle/gather (ConnectionError); the request may have been carried out, so "
            "it is not sent again; the caller hears the apology") in timeline


def test_a_dropped_calls_request_is_the_handlers_network_error_on_twilio() -> None:
    with Phone(menu_app("twilio")) as phone:
        call = phone.call()
        phone.set_faults(rest_drop=1.0, seed=1)
        call.press("9")
        timeline = call.describe()
    assert ("menu raised NetworkError: Twilio did not answer the Calls request "
            "(ConnectionError); it may have placed the call, so it is not sent again") \
        in timeline


@pytest.mark.parametrize("carrier", CARRIERS)
def test_an_app_that_raises_past_its_handlers_is_a_failed_delivery(carrier: str) -> None:
    app = menu_app(carrier)
    app.testing = True                  # Flask lets the exception out of the WSGI app

    @app.before_request
    def broken() -> None:
        from flask import request
        if "/notify/" in request.path:
            raise RuntimeError("middleware broke")

    with Phone(app) as phone:
        call = phone.call().press("1")
        timeline = call.describe()
    assert "-> ConnectionError: the WSGI app behind http://app.test/" in timeline
    assert "raised RuntimeError: middleware broke" in timeline


@pytest.mark.parametrize("carrier", CARRIERS)
def test_duplicated_deliveries_reach_the_app_twice(carrier: str) -> None:
    with Phone(menu_app(carrier)) as phone:
        phone.set_faults(duplicate=1.0, seed=1)
        call = phone.call().press("1")
        assert call.call_state == "ended" and call.last_prompt == "Goodbye."
        assert "fault=duplicate" in call.describe()


def test_a_twilio_app_with_credentials_of_its_own_answers_the_phones_webhooks() -> None:
    app = menu_app("twilio", TWILIO_ACCOUNT_SID="AC" + "9" * 32, TWILIO_AUTH_TOKEN="its-own")
    with Phone(app) as phone:
        call = phone.call()
        assert call.last_prompt == "Press 1.", call.describe()

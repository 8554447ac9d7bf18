"""WSGISession: requests answered by calling a WSGI app directly, with no requests machinery
in between, for each direction a Phone uses: an app's HoiioClient and twilio Client to the
simulator, the simulator's notifications to the app."""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask, jsonify, request
from hypothesis import given
from hypothesis import strategies as st
from twilio.base.exceptions import TwilioRestException

from hoiivr.carriers.twilio.simulated import client_for
from hoiivr.client import HoiioClient
from hoiivr.simulator import Simulator, VirtualClock, WSGIResponse, WSGISession
from hoiivr.simulator.transport import form_encode
from hoiivr.simulator.web import create_app

from .conftest import APP_ID, CALLER, NUMBER, TOKEN

SIM_URL = "http://hoiio.sim"


def echo_app() -> Flask:
    app = Flask("echo")

    @app.route("/<path:path>", methods=["GET", "POST", "PUT"])
    def handler(path: str) -> Any:
        res = jsonify(method=request.method, path=request.path,
                      query=request.query_string.decode(), body=request.get_data().hex(),
                      content_type=request.content_type, header=request.headers.get("X-Test"),
                      host=request.host, args=request.args.to_dict(flat=False),
                      form=request.form.to_dict(flat=False))
        res.headers["X-Reply"] = "yes"
        return res, 201

    return app


def test_passes_method_path_query_headers_and_raw_body() -> None:
    http = WSGISession(echo_app())
    raw = b"a=%2B65&b=\xff\x00"
    res = http.request("POST", "http://app.test/some/%2Bpath?x=1&y=%20", data=raw,
                       headers={"X-Test": "hi", "Content-Type": "application/octet-stream"})
    assert res.status_code == 201 and res.reason == "CREATED" and res.ok
    assert res.headers["x-reply"] == "yes" and res.headers["Content-Type"] == "application/json"
    data = res.json()
    assert data["method"] == "POST" and data["path"] == "/some/+path"
    assert data["query"] == "x=1&y=%20" and data["args"] == {"x": ["1"], "y": [" "]}
    assert bytes.fromhex(data["body"]) == raw
    assert data["header"] == "hi" and data["host"] == "app.test"


def test_params_and_form_data_are_encoded_as_requests_encodes_them() -> None:
    http = WSGISession(echo_app())
    data = http.post("http://app.test/f", data={"to": "+6560000000", "tag": "",
                                                "event": ["initiated", "answered"]}).json()
    assert data["form"] == {"to": ["+6560000000"], "tag": [""],
                            "event": ["initiated", "answered"]}
    assert data["content_type"] == "application/x-www-form-urlencoded"
    got = http.get("http://app.test/g?a=1", params={"b": "2 3"}).json()
    assert got["query"] == "a=1&b=2+3" and got["body"] == ""


def test_a_reply_reads_as_a_requests_response() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("404 Not Found", [("Content-Type", "text/plain"),
                                                 ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        write(b"caf\xe9 ")
        return [b"gone"]

    with WSGISession(app).get("http://w.test/x") as res:
        assert isinstance(res, WSGIResponse) and not res.ok
        # text/* without a charset is ISO-8859-1, as requests reads it.
        assert res.content == b"caf\xe9 gone" and res.text == "café gone"
        assert res.headers["set-cookie"] == "a=1, b=2"
        assert res.header_list[1:] == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        with pytest.raises(requests.HTTPError, match="404 Client Error: Not Found"):
            res.raise_for_status()
        with pytest.raises(ValueError):
            res.json()


def test_an_app_that_raises_is_a_connection_error_chained_to_it() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise ValueError("broken app")

    with pytest.raises(requests.ConnectionError, match="broken app") as caught:
        WSGISession(app).post("http://w.test/", data=b"x")
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_url_outside_its_root_is_not_served() -> None:
    http = WSGISession(echo_app(), "http://app.test")
    assert http.get("http://app.test/in").status_code == 201
    for outside in ("http://other.test/in", "http://app.test.evil/in"):
        with pytest.raises(requests.ConnectionError, match="nothing in-process serves"):
            http.get(outside)


@pytest.fixture
def sim() -> Iterable[Simulator]:
    sim = Simulator(clock=VirtualClock())
    sim.add_account(APP_ID, TOKEN)
    sim.add_number(NUMBER, None)
    yield sim
    sim.close()


def test_hoiio_client_reaches_the_simulator_directly(sim: Simulator) -> None:
    http = WSGISession(sim.wsgi_app, SIM_URL)
    client = HoiioClient(APP_ID, TOKEN, base_url=SIM_URL + "/open/", session=http)
    session = sim.call(CALLER, NUMBER)
    assert client.play(session, "Hello.").is_success()
    assert client.get_balance().balance == "100.000"
    get = HoiioClient(APP_ID, TOKEN, base_url=SIM_URL + "/open/", session=http, method="GET")
    assert get.hangup(session).status == "success_ok"
    assert sim.get_call(session)["prompts"] == ["Hello."]


def test_an_injected_dropped_connection_is_a_network_error_that_was_sent(
        sim: Simulator) -> None:
    client = HoiioClient(APP_ID, TOKEN, base_url=SIM_URL + "/open/",
                         session=WSGISession(sim.wsgi_app, SIM_URL))
    sim.set_faults(rest_drop=1.0)
    from hoiivr.errors import NetworkError
    with pytest.raises(NetworkError) as caught:
        client.dial("+6581000001")
    assert caught.value.sent is True and "connection to Hoiio broke" in str(caught.value)
    (call,) = sim.calls()
    assert call["state"] == "dialing"                   # carried out; the reply was lost
    assert [e["fault"] for e in sim.get_call(call["session"], "timeline")["timeline"]
            if e["type"] == "fault"] == ["rest_drop"]


def test_notifications_reach_an_app_directly_and_its_answers_are_in_the_timeline() -> None:
    heard: list[dict[str, str]] = []
    app = Flask("receiver")

    @app.post("/answer")
    def answer() -> Any:
        heard.append(request.form.to_dict())
        return ("", 503) if len(heard) > 1 else "ok"

    sim = Simulator(clock=VirtualClock(), wait=5, http=WSGISession(app, "http://app.test"))
    sim.add_account(APP_ID, TOKEN)
    sim.add_number(NUMBER, "http://app.test/answer")
    session = sim.call(CALLER, NUMBER)
    sim.advance(10)
    sim.close()
    assert [h["call_state"] for h in heard] == ["ringing", "ended"]
    assert heard[0]["session"] == session
    outcomes = [(e.get("reply_status"), e.get("error"))
                for e in sim.get_call(session)["timeline"] if e["type"] == "notification"]
    assert outcomes == [(200, None), (503, "the app answered HTTP 503; it must answer 200")]


def test_twilio_client_reaches_the_calls_resource_directly() -> None:
    sim = Simulator(clock=VirtualClock())
    account = sim.add_twilio_account(cps=100)
    sim.add_twiml_number(NUMBER, None)
    http = WSGISession(sim.wsgi_app, SIM_URL)
    client = client_for(account.sid, account.auth_token, SIM_URL, http=http)
    call = client.calls.create(to="+6581000001", from_=NUMBER,
                               twiml="<Response><Say>Hi.</Say></Response>")
    assert call.status == "queued" and call.sid.startswith("CA")
    assert client.calls(call.sid).fetch().sid == call.sid
    wrong = client_for(account.sid, "wrong", SIM_URL, http=http)
    with pytest.raises(TwilioRestException) as refused:
        wrong.calls(call.sid).fetch()
    assert refused.value.status == 401
    sim.set_faults(rest_drop=1.0)
    with pytest.raises(requests.ConnectionError, match="rest_drop"):
        client.calls.create(to="+6581000002", from_=NUMBER, url="http://app.test/x")
    sim.close()


@pytest.mark.parametrize("method, path, body, content_type", [
    ("POST", "/open/ivr/middle/play", f"app_id={APP_ID}&access_token={TOKEN}&session=S1&msg=Hi",
     "application/x-www-form-urlencoded"),
    ("GET", f"/open/user/get_balance?app_id={APP_ID}&access_token={TOKEN}", "", ""),
    ("POST", "/open/user/get_balance", f"app_id={APP_ID}&access_token=wrong", ""),
    ("POST", "/open/ivr/start/dial", f"app_id={APP_ID}&access_token={TOKEN}&dest=%ZZ",
     "application/x-www-form-urlencoded"),
    ("POST", "/open/user/get_balance", "a=" + "x" * 70_000, "application/x-www-form-urlencoded"),
    ("POST", "/open/user/get_balance", '{"app_id": "x"}', "application/json"),
])
def test_the_rest_api_answers_as_its_flask_view_does(sim: Simulator, method: str, path: str,
                                                     body: str, content_type: str) -> None:
    # The simulator answers Hoiio's REST API in front of Flask; Flask's own view is the
    # reference, reached through create_app without the front.
    sim.call(CALLER, NUMBER)
    headers = {"Content-Type": content_type} if content_type else {}
    fast = WSGISession(sim.wsgi_app).request(method, SIM_URL + path, data=body.encode(),
                                             headers=headers)
    flask = WSGISession(create_app(sim)).request(method, SIM_URL + path, data=body.encode(),
                                                 headers=headers)
    assert (fast.status_code, fast.headers["Content-Type"]) == \
        (flask.status_code, flask.headers["Content-Type"])
    assert fast.content == flask.content and json.loads(fast.content)


@given(st.lists(st.tuples(st.text(), st.one_of(st.text(), st.integers()))))
def test_form_encoding_is_urlencodes(pairs: list[tuple[str, Any]]) -> None:
    assert form_encode(pairs) == urlencode(pairs)


def test_sim_wsgi_serves_rest_and_the_control_api_as_wsgi_app_does() -> None:
    # sim.wsgi builds the Flask app only for what needs it (the control API here): a
    # Phone's REST requests and notifications never pay for compiling its routes.
    sim = Simulator(clock=VirtualClock())
    sim.add_account(APP_ID, TOKEN)
    client = HoiioClient(APP_ID, TOKEN, base_url=SIM_URL + "/open/",
                         session=WSGISession(sim.wsgi, SIM_URL))
    assert client.request("user/get_balance").is_success()
    bare = WSGISession(sim.wsgi, SIM_URL).get(SIM_URL + "/sim/calls")
    flask = WSGISession(sim.wsgi_app, SIM_URL).get(SIM_URL + "/sim/calls")
    assert (bare.status_code, bare.json()) == (flask.status_code, flask.json()) == (200, {"calls": []})
    assert isinstance(sim.wsgi_app, Flask) and sim.wsgi_app.wsgi_app is sim.wsgi

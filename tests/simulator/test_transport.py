"""WSGIAdapter: a requests transport that serves requests from a WSGI app in-process."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import pytest
import requests
from flask import Flask, jsonify, request

from hoiivr.client import HoiioClient
from hoiivr.simulator import Simulator, VirtualClock, WSGIAdapter

from .conftest import APP_ID, CALLER, NUMBER, TOKEN


@pytest.fixture
def echo() -> Iterator[requests.Session]:
    app = Flask("echo")

    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE"])
    def handler(path: str) -> Any:
        res = jsonify(method=request.method, path=request.path, query=request.query_string
                      .decode(), body=request.get_data().hex(),
                      content_type=request.content_type,
                      header=request.headers.get("X-Test"), host=request.host,
                      args=request.args.to_dict(), form=request.form.to_dict())
        res.headers["X-Reply"] = "yes"
        return res, 201

    with requests.Session() as http:
        http.mount("http://app.test/", WSGIAdapter(app))
        yield http


def test_passes_method_path_query_headers_and_raw_body(echo: requests.Session) -> None:
    raw = b"a=%2B65&b=\xff\x00"
    res = echo.post("http://app.test/some/%2Bpath?x=1&y=%20", data=raw,
                    headers={"X-Test": "hi", "Content-Type": "application/octet-stream"})
    assert res.status_code == 201 and res.reason == "CREATED"
    assert res.headers["X-Reply"] == "yes" and res.headers["content-type"] == "application/json"
    data = res.json()
    assert data["method"] == "POST" and data["path"] == "/some/+path"
    assert data["query"] == "x=1&y=%20" and data["args"] == {"x": "1", "y": " "}
    assert bytes.fromhex(data["body"]) == raw
    assert data["header"] == "hi" and data["host"] == "app.test"


def test_form_bodies_and_methods(echo: requests.Session) -> None:
    data = echo.post("http://app.test/f", data={"to": "+6560000000", "tag": ""}).json()
    assert data["form"] == {"to": "+6560000000", "tag": ""}
    assert data["content_type"] == "application/x-www-form-urlencoded"
    assert echo.get("http://app.test/g", params={"a": "b"}).json()["args"] == {"a": "b"}
    assert echo.put("http://app.test/p", data="x").json()["method"] == "PUT"
    assert echo.delete("http://app.test/d").json()["body"] == ""


def test_streaming_and_write_callable() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("202 Accepted", [("Content-Type", "text/plain"),
                                                ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        write(b"head-")
        return [b"body", b"-tail"]

    with requests.Session() as http:
        http.mount("http://w.test/", WSGIAdapter(app))
        streamed = http.get("http://w.test/", stream=True)
        assert b"".join(streamed.iter_content(3)) == b"head-body-tail"
        res = http.get("http://w.test/")
        assert res.status_code == 202 and res.text == "head-body-tail"
        assert res.headers["Set-Cookie"] == "a=1, b=2"


def test_an_app_that_raises_is_a_connection_error() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise ValueError("broken app")

    with requests.Session() as http:
        http.mount("http://w.test/", WSGIAdapter(app))
        with pytest.raises(requests.ConnectionError, match="broken app") as caught:
            http.get("http://w.test/")
        assert isinstance(caught.value.__cause__, ValueError)


def test_hoiio_client_reaches_the_simulator_in_process() -> None:
    sim = Simulator(clock=VirtualClock())
    sim.add_account(APP_ID, TOKEN)
    sim.add_number(NUMBER, None)
    with requests.Session() as http:
        http.mount("http://hoiio.sim/", WSGIAdapter(sim.wsgi_app))
        client = HoiioClient(APP_ID, TOKEN, base_url="http://hoiio.sim/open/", session=http)
        session = sim.call(CALLER, NUMBER)
        assert client.play(session, "Hello.").is_success()
        assert client.get_balance().balance == "100.000"
        dial = client.dial("+6581000001", msg="Hi.")
        assert dial.is_success() and dial.session.startswith("S")
        get = HoiioClient(APP_ID, TOKEN, base_url="http://hoiio.sim/open/", session=http,
                          method="GET")
        assert get.hangup(session).status == "success_ok"
    sim.close()
    assert sim.get_call(session)["prompts"] == ["Hello."]

"""LiveServer: a WSGI app on a real loopback socket, for tests over real HTTP."""
from __future__ import annotations

import pytest
import requests
from flask import Flask

from hoiivr.testing import LiveServer


def hello_app() -> Flask:
    app = Flask("hello")
    app.get("/")(lambda: "hello")
    return app


def test_serves_the_app_on_a_free_port_until_stopped() -> None:
    with LiveServer(hello_app()) as server:
        assert server.port != 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(server.url + "/", timeout=5).text == "hello"
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=5)
    server.stop()                                   # a second stop does nothing


def test_binding_first_gives_the_url_before_serving() -> None:
    server = LiveServer(hello_app())
    server.bind()
    url = server.url
    with server:
        assert server.url == url
        assert requests.get(url + "/", timeout=5).status_code == 200


def test_a_taken_port_is_an_os_error_not_an_exit() -> None:
    with LiveServer(hello_app()) as first:
        with pytest.raises(OSError):
            LiveServer(hello_app(), port=first.port).bind()

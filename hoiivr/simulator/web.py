"""The simulator over HTTP: :class:`Simulator` and its WSGI app, with Hoiio's REST API at
``/open/``, Twilio's Calls resource at ``/2010-04-01/``, the control API at ``/sim/`` and
the web page at ``/``."""
from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wsgi import get_input_stream

from . import rest, webui
from .control import blueprint
from .core import SimulatorCore
from .faults import FaultyRest
from .guard import Guard
from .transport import WSGIApp
from .twiml import api as twilio_api

log = logging.getLogger("hoiivr.simulator")

#: Every method is routed to the REST view, which answers error_invalid_http_method itself.
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]
#: Bodies of the control API may carry an uploaded recording.
MAX_UPLOAD = 16 * 1024 * 1024


class Simulator(SimulatorCore):
    """A local Hoiio: the REST API, calls, notifications, phones and recordings.

    ::

        sim = Simulator(clock=VirtualClock())
        sim.add_account("APP", "TOKEN")
        sim.add_number("+6560000000", "http://127.0.0.1:5000/hoiio/answer")
        session = sim.call("+6591234567", "+6560000000")
        sim.settle(session)              # until the caller's turn (or the end)
        sim.press(session, "1")
        print(sim.get_call(session)["prompts"])

    Everything of :class:`~hoiivr.simulator.core.SimulatorCore` (its arguments and its
    Python API), plus :attr:`wsgi_app`, the Flask app that serves it over HTTP: mount it
    on a ``requests.Session`` with :class:`WSGIAdapter`, or serve it with
    :class:`SimulatorServer`; and :attr:`wsgi`, the same as a bare WSGI callable that
    builds the Flask app only when a request needs it (what ``Phone`` uses).

    ``allowed_hosts``: the names, besides ``localhost``, ``127.0.0.1``, ``::1`` and the
    host of ``base_url``, by which clients may reach it (the ``Host`` header); any other
    is refused, so that a web page cannot reach it by DNS rebinding. Requests that change
    something are refused when a browser says they come from a page of another origin.
    """

    def __init__(self, *args: Any, allowed_hosts: Iterable[str] = (), **options: Any) -> None:
        super().__init__(*args, **options)
        self.allowed_hosts = tuple(allowed_hosts)
        # One RestApi behind both ways in: it keeps each account's request rate.
        self._api = rest.RestApi(self.engine, self.directory, self.rate_limit)
        #: The simulator as a WSGI callable, the same as :attr:`wsgi_app`'s, but its Flask
        #: app is built on the first request that needs it (the control API, Twilio's
        #: Calls resource, the web page), not for Hoiio's REST API: compiling Flask's
        #: routes costs as much as several whole calls, and a test's Phone rarely needs it.
        self.wsgi = Guard(FaultyRest(OpenApi(self._api, self._flask_wsgi), self.fault_plan,
                                     self.engine), self._hosts)
        self._flask: tuple[Flask, WSGIApp] | None = None
        self._building = threading.Lock()

    @property
    def wsgi_app(self) -> Flask:
        """The Flask app that serves the simulator (its ``wsgi_app`` is :attr:`wsgi`)."""
        return self._built()[0]

    def _built(self) -> tuple[Flask, WSGIApp]:
        with self._building:
            if self._flask is None:
                app = create_app(self, self._api)
                # Flask's way to add WSGI middleware; its own wsgi_app serves what the
                # middleware passes on.
                self._flask = app, app.wsgi_app
                app.wsgi_app = self.wsgi  # type: ignore[method-assign]
            return self._flask

    def _flask_wsgi(self, environ: dict[str, Any],
                    start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._built()[1](environ, start_response)

    def _hosts(self) -> tuple[str, ...]:
        return (_netloc(self.base_url), *self.allowed_hosts)


@functools.lru_cache(maxsize=16)
def _netloc(url: str) -> str:
    return urlsplit(url).netloc


def create_app(sim: SimulatorCore, api: rest.RestApi | None = None) -> Flask:
    """A Flask app serving ``sim``: give its ``/open/`` URL to any Hoiio SDK. ``api``
    answers its REST requests (by default one of its own)."""
    app = Flask("hoiivr.simulator")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    api = api or rest.RestApi(sim.engine, sim.directory, sim.rate_limit)

    def open_api(endpoint: str) -> Any:
        if endpoint not in rest.ENDPOINTS:
            return _error(404, f"/open/{endpoint} is not a Hoiio endpoint; the IVR blocks are "
                          "under /open/ivr/, e.g. /open/ivr/middle/play")
        return jsonify(answer_open(api, request.method, endpoint, request.environ,
                                   request.stream))

    app.add_url_rule("/open/<path:endpoint>", "open_api", open_api, methods=ANY_METHOD,
                     provide_automatic_options=False)
    app.register_blueprint(blueprint(sim))
    app.register_blueprint(twilio_api.blueprint(sim))
    app.register_blueprint(webui.blueprint())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        endpoint = request.path[len("/open/"):] if request.path.startswith("/open/") else ""
        if exc.code == 405 and endpoint in rest.ENDPOINTS:
            return jsonify(status="error_invalid_http_method")
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def crashed(exc: Exception) -> Any:
        log.exception("the simulator failed on %s %s", request.method, request.path)
        if request.path.startswith("/open/"):
            return jsonify(status="error_internal_server_error")
        return _error(500, f"the simulator failed: {type(exc).__name__}: {exc}")

    return app


def _error(code: int, message: str) -> Any:
    return jsonify(error=message), code


def answer_open(api: rest.RestApi, method: str, endpoint: str, environ: dict[str, Any],
                stream: IO[bytes]) -> dict[str, Any]:
    """The JSON reply to a request for the Hoiio endpoint ``endpoint``: HTTP 200 always,
    an error too (protocol §1)."""
    try:
        body = rest.read_body(stream)
        if method not in rest.METHODS:
            log.info("%s /open/%s -> error_invalid_http_method", method, endpoint)
            return {"status": "error_invalid_http_method"}
        params = rest.read_params(environ, body)
    except (rest.Malformed, ValueError) as exc:         # TooLarge too: every reply has a status
        log.info("%s /open/%s -> error_malformed_params (%s)", method, endpoint, exc)
        return {"status": "error_malformed_params"}
    reply = api.handle(method, endpoint, params)
    if log.isEnabledFor(logging.INFO):
        log.info("%s /open/%s", method, rest.describe(endpoint, params, reply))
    return reply


class OpenApi:
    """WSGI middleware: answers Hoiio's REST API itself, in front of the Flask app.

    A REST request is most of what an app asks of the simulator, and Flask's request
    context, routing and response objects cost ten times the request's own work. The
    ordinary requests (GET or POST of a known endpoint, a body Flask would accept) are
    answered here as the Flask view answers them, with Flask's compact JSON; the others
    (another method, an unknown endpoint, a body over the upload limit) go on to Flask.
    """

    def __init__(self, api: rest.RestApi, app: WSGIApp) -> None:
        self.api = api
        self.app = app

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        endpoint = path[len("/open/"):]
        if not (path.startswith("/open/") and endpoint in rest.ENDPOINTS
                and method in rest.METHODS and _length(environ) <= MAX_UPLOAD):
            return self.app(environ, start_response)
        try:
            reply = answer_open(self.api, method, endpoint, environ,
                                get_input_stream(environ, max_content_length=MAX_UPLOAD))
        except Exception:
            # As the Flask app's error handler answers a crash on /open/.
            log.exception("the simulator failed on %s %s", method, path)
            reply = {"status": "error_internal_server_error"}
        body = (json.dumps(reply, separators=(",", ":")) + "\n").encode("ascii")
        start_response("200 OK", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def _length(environ: dict[str, Any]) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return MAX_UPLOAD + 1           # Flask says what is wrong with it

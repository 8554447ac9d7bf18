"""The simulator's WSGI app: Hoiio's REST API at ``/open/`` and the control API at ``/sim/``."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from . import rest, webui
from .control import blueprint

if TYPE_CHECKING:
    from .core import Simulator

log = logging.getLogger("hoiivr.simulator")

#: Every method is routed to the REST view, which answers error_invalid_http_method itself.
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]
#: Bodies of the control API may carry an uploaded recording.
MAX_UPLOAD = 16 * 1024 * 1024


def create_app(sim: Simulator) -> Flask:
    """A Flask app serving ``sim``: give its ``/open/`` URL to any Hoiio SDK."""
    app = Flask("hoiivr.simulator")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    api = rest.RestApi(sim.engine, sim.directory, sim.rate_limit)

    def open_api(endpoint: str) -> Any:
        if endpoint not in rest.ENDPOINTS:
            return _error(404, f"/open/{endpoint} is not a Hoiio endpoint; the IVR blocks are "
                          "under /open/ivr/, e.g. /open/ivr/middle/play")
        try:
            body = rest.read_body(request.stream)
            if request.method not in rest.METHODS:
                log.info("%s /open/%s -> error_invalid_http_method", request.method, endpoint)
                return jsonify(status="error_invalid_http_method")
            params = rest.read_params(request.environ, body)
        except rest.TooLarge as exc:
            return _error(413, f"{exc}; Hoiio's parameters are small")
        except (rest.Malformed, ValueError) as exc:
            log.info("%s /open/%s -> error_malformed_params (%s)", request.method, endpoint, exc)
            return jsonify(status="error_malformed_params")
        reply = api.handle(request.method, endpoint, params)
        log.info("%s /open/%s", request.method, rest.describe(endpoint, params, reply))
        return jsonify(reply)

    app.add_url_rule("/open/<path:endpoint>", "open_api", open_api, methods=ANY_METHOD,
                     provide_automatic_options=False)
    app.register_blueprint(blueprint(sim))
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

"""Shared by the ``hoiivr`` command tests: where the fixture apps are, and a fake Hoiio."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

APPS = Path(__file__).parent / "apps"
#: Settings a developer's shell may hold; each test starts without them.
SETTINGS = ("HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN", "HOIIO_API_URL", "HOIIVR_PUBLIC_URL",
            "HOIIVR_STORE", "SECRET_KEY")
#: The config line every one-off app in a test needs.
CONFIG = ('app.config.update(HOIIO_APP_ID="AP1", HOIIO_ACCESS_TOKEN="token", '
          'SECRET_KEY="secret")\n')


class FakeHoiio:
    """A tiny Hoiio REST API on a real port: records each request's endpoint and form and
    answers ``{"status": self.status}``."""

    def __init__(self) -> None:
        self.status = "success_ok"
        self.requests: list[tuple[str, dict[str, str]]] = []
        # Single-threaded, so HTTP/1.0: every connection is closed after its reply.
        self.server = make_server("127.0.0.1", 0, self.wsgi)
        self.url = f"http://127.0.0.1:{self.server.port}/open/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @Request.application
    def wsgi(self, request: Request) -> Response:
        endpoint = request.path.removeprefix("/open/")
        self.requests.append((endpoint, request.form.to_dict()))
        return Response(json.dumps({"status": self.status}), mimetype="application/json")

    def forms(self, endpoint: str) -> list[dict[str, Any]]:
        return [form for name, form in self.requests if name == endpoint]

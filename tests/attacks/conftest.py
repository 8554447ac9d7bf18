"""The adversarial suite: each attack on a served app (real HTTP, real stores), counted
in the ``tally`` (``tests/conftest.py``), whose table ends the run."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from fakes import FakeHoiio
from flask import Flask

from hoiivr import IVR
from hoiivr.carriers.hoiio import HoiioClient, compute_signature
from hoiivr.stores import Store
from hoiivr.testing import LiveServer

APP_ID, TOKEN, SECRET = "attack-app", "attack-token", "attack-secret"


@dataclass
class Served:
    """A hoiivr app on a real port, its REST client talking to a fake Hoiio over HTTP."""

    app: Flask
    ivr: IVR
    server: LiveServer
    hoiio: FakeHoiio
    http: requests.Session

    def post(self, path: str, fields: dict[str, str], token: str = TOKEN,
             headers: dict[str, str] | None = None) -> requests.Response:
        body = urlencode(fields).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded",
                "X-Hoiio-Signature": compute_signature(body, token), **(headers or {})}
        return self.http.post(self.server.url + path, data=body, headers=sent, timeout=30)

    def ring(self, session: str = "S900000001") -> requests.Response:
        return self.post("/hoiio/answer", {"session": session, "call_state": "ringing",
                                           "ivr_block": "answer", "txn_ref": "AA-C-900000001",
                                           "from": "+6591234567", "to": "+6560000000",
                                           "tag": ""})

    def sent(self, endpoint: str | None = None) -> list[dict[str, str]]:
        """The REST requests the app made (of one endpoint, e.g. ``ivr/middle/play``)."""
        return [hit.form for hit in self.hoiio.hits
                if endpoint is None or hit.path.endswith("/" + endpoint)]

    def last_notify_path(self) -> str:
        url = self.sent()[-1]["notify_url"]
        return url[len(self.server.url):]


@pytest.fixture
def serve(store: Store) -> Iterator[Any]:
    """``serve(app, ivr)``: the app on a real port with the suite's ``store``."""
    made: list[Served] = []

    def start(app: Flask, ivr: IVR, public: bool = True, **wiring: Any) -> Served:
        hoiio = FakeHoiio()
        client = HoiioClient(APP_ID, TOKEN, base_url=hoiio.url)
        server = LiveServer(app).start()
        ivr.init_app(app, client=client, store=store, secret_key=SECRET,
                     public_url=server.url if public else None, **wiring)
        made.append(Served(app, ivr, server, hoiio, requests.Session()))
        return made[-1]

    yield start
    for served in made:
        served.http.close()
        served.server.stop()
        served.app.extensions["hoiivr"].close()
        served.hoiio.close()

"""The adversarial suite: each attack on a served app (real HTTP, real stores), counted.

Every test records how many attempts it made and how many had a bad effect (a handler run
that should not have been, a block sent twice, a caller left in silence...) in ``tally``;
a run of this directory ends with the table that ``docs/reliability.rst`` quotes::

    pytest tests/attacks -p no:cacheprovider
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
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
class Tally:
    """Attempts and bad effects per attack, over the session."""

    rows: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attack: str, attempts: int, bad: int) -> None:
        with self.lock:
            row = self.rows.setdefault(attack, [0, 0])
            row[0] += attempts
            row[1] += bad


TALLY = Tally()


@pytest.fixture
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.rows:
        return
    write = terminalreporter.write_line
    write("")
    write(f"{'attack':<58}{'attempts':>9}{'bad effects':>13}")
    for attack, (attempts, bad) in sorted(TALLY.rows.items()):
        write(f"{attack:<58}{attempts:>9}{bad:>13}")


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

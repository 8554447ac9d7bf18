"""The DESIGN.md app and the simulator, in-process on the virtual clock, with the app's
state in a SQLite file so that the app can be restarted between any two deliveries.

Unlike :class:`hoiivr.testing.Phone`, notifications are not delivered by themselves:
:class:`ManualOutbox` keeps them until a test delivers, duplicates, reorders or drops them.
"""
from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from hoiivr.client import HoiioClient
from hoiivr.simulator import Simulator, VirtualClock, WSGIAdapter
from hoiivr.simulator.notifier import Deliverer, Notice, Outbox
from hoiivr.tokens import NotifyTokens
from e2e.design_app import create_app

APP_URL = "http://app.test"
HOIIO_URL = "http://hoiio.sim"
NUMBER = "+6560000000"
CALLER = "+6591234567"
WAIT = 60.0
APP_ID, TOKEN, SECRET = "design-app", "design-token", "design-secret"
NOTIFY_PREFIX = APP_URL + "/hoiio/notify/"


class ManualOutbox(Outbox):
    """Holds every notification until the test says what happens to it."""

    def __init__(self, sim: Simulator, http: requests.Session) -> None:
        engine = sim.engine
        super().__init__(Deliverer(http), engine.delivery_started, engine.delivery_finished)
        self.engine = engine
        self.pending: list[Notice] = []
        #: Every notification the simulator sent, per call, in order.
        self.sent: dict[str, list[Notice]] = {}
        #: Notifications delivered at least once, and dropped ones.
        self.delivered: set[Notice] = set()
        self.dropped: set[Notice] = set()

    def submit(self, notice: Notice) -> None:
        self.pending.append(notice)
        self.sent.setdefault(notice.session, []).append(notice)

    def release(self, index: int, keep: bool = False) -> Notice:
        """Deliver ``pending[index]``; ``keep``: deliver it again later (a duplicate)."""
        notice = self.pending[index] if keep else self.pending.pop(index)
        if keep:
            self.pending.append(notice)
            with self.engine.lock:
                self.engine.sessions[notice.session].undelivered += 1
        self._send(notice)
        self.delivered.add(notice)
        return notice

    def drop(self, index: int) -> Notice:
        notice = self.pending.pop(index)
        with self.engine.lock:
            self.engine.sessions[notice.session].undelivered -= 1
        self.dropped.add(notice)
        return notice


@dataclass
class Line:
    """The simulator and the DESIGN app wired together; :meth:`restart_app` makes a new
    Flask app object on the same store file."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hoiivr-")))
    manual: bool = True

    def __post_init__(self) -> None:
        self.store_url = f"sqlite:///{self.directory / 'calls.sqlite3'}"
        self.to_app = requests.Session()
        self.to_app.mount(APP_URL + "/", WSGIAdapter(self._current_app))
        self.sim = Simulator(clock=VirtualClock(), wait=WAIT, http=self.to_app,
                             base_url=HOIIO_URL)
        self.sim.add_account(APP_ID, TOKEN)
        self.sim.add_number(NUMBER, APP_URL + "/hoiio/answer")
        self.to_sim = requests.Session()
        self.to_sim.mount(HOIIO_URL + "/", WSGIAdapter(self.sim.wsgi_app))
        self.outbox: ManualOutbox | None = None
        if self.manual:
            self.outbox = ManualOutbox(self.sim, self.to_app)
            self.sim.engine.outbox = self.outbox
        self.tokens = NotifyTokens(SECRET)
        self.apps: list[Flask] = []
        self.restart_app()

    @property
    def app(self) -> Flask:
        return self.apps[-1]

    def _current_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def restart_app(self) -> None:
        if self.apps:
            self.app.extensions["hoiivr"].close()
        app = create_app(HOIIVR_STORE=self.store_url, HOIIVR_PUBLIC_URL=APP_URL)
        client = HoiioClient(APP_ID, TOKEN, base_url=HOIIO_URL + "/open/", session=self.to_sim)
        app.extensions["hoiivr"].handlers.init_app(app, client=client)
        self.apps.append(app)

    def close(self) -> None:
        self.app.extensions["hoiivr"].close()
        self.sim.close()
        self.to_app.close()
        self.to_sim.close()
        for path in self.directory.iterdir():
            path.unlink()
        self.directory.rmdir()

    # -- what happened ---------------------------------------------------------------------

    def calls(self) -> dict[str, dict[str, Any]]:
        return {c["session"]: self.sim.get_call(c["session"]) for c in self.sim.calls()}

    def hangups(self) -> Counter[str]:
        """How many times ``on_hangup`` ran for each session, over every app object."""
        return Counter(session for app in self.apps for session, *_ in app.ended)

    def ticket_seq(self, params: dict[str, str]) -> tuple[str, int] | None:
        """(call, seq) of a request's notify_url token, or None without one."""
        url = params.get("notify_url", "")
        if not url.startswith(NOTIFY_PREFIX):
            return None
        ticket = self.tokens.loads(url[len(NOTIFY_PREFIX):])
        return ticket.call, ticket.seq


def requests_of(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in call["timeline"] if e["type"] == "request"]


def deliveries_of(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in call["timeline"] if e["type"] == "notification"]

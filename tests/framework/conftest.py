"""Fixtures for the framework's unit tests: a recording fake client, no Flask, no network."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from hoiivr import IVR
from hoiivr.blocks import Block
from hoiivr.carriers.hoiio import HoiioCarrier, compute_signature, parse_notification
from hoiivr.carriers.hoiio.carrier import PROOF
from hoiivr.client import Response
from hoiivr.dispatch import Dispatcher
from hoiivr.runtime import Runtime
from hoiivr.stores import MemoryStore
from hoiivr.tokens import NotifyTokens, Ticket

NOTIFY_BASE = "http://app.test/hoiio/notify/"


class FakeClient:
    """Records every block sent; ``fail_with`` makes the next sends fail.

    ``during`` holds functions the next sends call before they answer, one per send: what
    happens while a request is in flight.
    """

    app_id = "app"
    access_token = "hoiio-token"

    def __init__(self) -> None:
        self.sent: list[tuple[Block, str | None, str | None]] = []
        self.tags: dict[str | None, str] = {}
        self.fail_with: list[Exception | str] = []
        self.during: list[Callable[[], object]] = []
        self.sessions = 0

    def send(self, block: Block, session: str | None = None,
             notify_url: str | None = None) -> Response:
        # ``sent`` holds the blocks as the app's code made them; ``tags`` the tag each notify
        # URL went with on the wire, with the proof of the step the carrier adds (what
        # Hoiio echoes).
        tag = getattr(block, "tag", None) or ""
        self.tags[notify_url] = tag
        if PROOF in tag:
            block = block.replace(tag=tag[:tag.rindex(PROOF)] or None)
        self.sent.append((block, session, notify_url))
        if self.during:
            self.during.pop(0)()
        data: dict[str, Any] = {"status": "success_ok"}
        if self.fail_with:
            failure = self.fail_with.pop(0)
            if isinstance(failure, Exception):
                raise failure
            data["status"] = failure
        if block.kind == "dial":
            self.sessions += 1
            data.update(session=f"S{900 + self.sessions}", txn_ref=f"AA-C-{self.sessions}")
        return Response(block.endpoint, {}, data)

    @property
    def kinds(self) -> list[str]:
        return [block.kind for block, _, _ in self.sent]

    def last_ticket(self, tokens: NotifyTokens) -> Ticket:
        url = self.sent[-1][2]
        assert url is not None and url.startswith(NOTIFY_BASE)
        return tokens.loads(url[len(NOTIFY_BASE):])


class Harness:
    """An IVR with a dispatcher over a memory store and a fake client."""

    def __init__(self) -> None:
        self.ivr = IVR()
        self.store = MemoryStore()
        self.client = FakeClient()
        self.tokens = NotifyTokens("test-secret")
        self.carrier = HoiioCarrier(self.client)  # type: ignore[arg-type]
        self.dispatcher = Dispatcher(self.ivr, self.store, self.carrier, self.tokens)

    def ring(self, session: str = "S1", **fields: str) -> str:
        form = {"session": session, "call_state": "ringing", "ivr_block": "answer",
                "txn_ref": "AA-C-1", "from": "+6591234567", "to": "+6560000000", "tag": ""}
        return self.dispatcher.ringing(parse_notification({**form, **fields}),
                                       NOTIFY_BASE).verdict

    def complete(self, session: str = "S1", ticket: Ticket | None = None, **fields: str) -> str:
        """Deliver the notification of the last block sent (or of ``ticket``)."""
        ticket = ticket or self.client.last_ticket(self.tokens)
        form = {"session": session, "call_state": "ongoing", "ivr_block": ticket.block,
                "txn_ref": "AA-C-1", "tag": "", **fields}
        return self.dispatcher.notify(parse_notification(form), ticket, NOTIFY_BASE).verdict

    def end(self, session: str = "S1", ticket: Ticket | None = None, **fields: str) -> str:
        billing = {"date": "2026-11-26 10:00:00", "duration": "1", "currency": "SGD",
                   "rate": "0.020", "debit": "0.020"}
        return self.complete(session, ticket, call_state="ended", **{**billing, **fields})


@pytest.fixture
def harness() -> Harness:
    h = Harness()
    yield h
    h.dispatcher.watchdog.close()
    h.store.close()




class SignedApp:
    """A Flask app with an IVR whose client is a :class:`FakeClient` (handed in through
    ``IVR(app, client=...)``), and a signing poster."""

    secret = "app-secret"
    access_token = "hoiio-token"

    def __init__(self, **config: Any) -> None:
        from flask import Flask
        self.app = Flask("signed_app")
        self.secret = config.setdefault("SECRET_KEY", self.secret)
        self.app.config.update(HOIIO_APP_ID="app", HOIIO_ACCESS_TOKEN=self.access_token,
                               HOIIO_API_URL="http://hoiio.test/open/", **config)
        self.client = FakeClient()
        self.ivr = IVR(self.app, client=self.client)
        self.http = self.app.test_client()

    @property
    def runtime(self) -> Runtime:
        return self.ivr.runtime(self.app)

    def post(self, path: str, fields: dict[str, str] | bytes, *, key: str | None = None,
             signature: str | None = None, sign: bool = True, echo: bool = True):
        """POST ``fields`` signed. Like Hoiio, a notification to a notify URL echoes the
        ``tag`` of the block sent with that URL (``echo=False``: the fields as given)."""
        from urllib.parse import urlencode

        if echo and isinstance(fields, dict) and "/notify/" in path:
            fields = {**fields, "tag": self.echoed_tag(path)}
        body = fields if isinstance(fields, bytes) else urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            headers["X-Hoiio-Signature"] = (signature if signature is not None
                                            else compute_signature(body, key or self.access_token))
        return self.http.post(path, data=body, headers=headers)

    def ring(self, session: str = "S1"):
        return self.post("/hoiio/answer", {"session": session, "call_state": "ringing",
                                           "ivr_block": "answer", "txn_ref": "AA-C-1",
                                           "from": "+6591234567", "to": "+6560000000", "tag": ""})

    def last_path(self) -> str:
        url = self.client.sent[-1][2]
        assert url is not None
        return url[len("http://localhost"):]

    def echoed_tag(self, path: str) -> str:
        """The tag Hoiio echoes to the notify URL ``path``: that of the block sent with it."""
        return self.client.tags.get("http://localhost" + path, "")


@pytest.fixture
def make_signed_app():
    """Build signed apps with extra config; their stores are closed afterwards."""
    apps = []

    def make(**config: Any) -> SignedApp:
        apps.append(SignedApp(**config))
        return apps[-1]
    yield make
    for app in apps:
        app.app.extensions["hoiivr"].close()


@pytest.fixture
def signed_app(make_signed_app) -> SignedApp:
    return make_signed_app()

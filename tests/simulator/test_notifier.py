"""Notifications: their body and signature, failed deliveries, delivery order and threads."""
from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pytest
import requests

from hoiivr.carriers.hoiio import compute_signature
from hoiivr.simulator import Simulator, VirtualClock, WSGIAdapter
from hoiivr.simulator import notifier
from hoiivr.simulator.notifier import (Deliverer, Delivery, InlineOutbox, Notice,
                                       PoolDeliverer, PooledOutbox, make_notice)

from .conftest import APP_ID, CALLER, NUMBER, PLAY, TOKEN, World


def test_make_notice_signs_the_exact_body() -> None:
    notice = make_notice("S1", "http://app.test/n?x=1&tag=no&e=",
                         [("call_state", "ongoing"), ("tag", ""), ("to", "+6560000000")], "key")
    assert notice.body == b"call_state=ongoing&tag=&to=%2B6560000000&x=1&e="
    assert notice.signature == compute_signature(notice.body, "key")
    assert notice.url == "http://app.test/n?x=1&tag=no&e="
    assert notice.form == {"call_state": "ongoing", "tag": "", "to": "+6560000000", "x": "1",
                           "e": ""}


def test_a_failed_delivery_is_not_retried_and_is_in_the_timeline(world: World) -> None:
    world.app.status = 500
    session = world.sim.call(CALLER, NUMBER)
    (entry,) = [e for e in world.sim.get_call(session)["timeline"] if e["type"] ==
                "notification"]
    assert entry["delivered"] is False and entry["reply_status"] == 500
    assert "HTTP 500" in entry["error"] and entry["latency_ms"] >= 0
    assert len(world.app.notes) == 1
    world.sim.settle(session)                           # the call goes on: the wait ends it
    assert world.sim.get_call(session)["state"] == "ended"
    assert len(world.app.notes) == 2


def _dead_url() -> str:
    with socket.socket() as sock:                       # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def test_connection_refused_is_recorded() -> None:
    notice = make_notice("S1", _dead_url(), [("call_state", "ringing")], "k")
    with requests.Session() as http:
        through_session = Deliverer(http, timeout=(1.0, 1.0))(notice)
    pool = PoolDeliverer(1, timeout=(1.0, 1.0))
    own = pool(notice)
    pool.close()
    for delivery in (through_session, own):
        assert delivery.status is None and "ConnectionError" in (delivery.error or "")
    assert own.error == (f"ConnectionError: cannot connect to {notice.url[7:-5]} "
                         "(Connection refused); is the app running?")


class _Misbehaving(BaseHTTPRequestHandler):
    """``/slow`` answers after 1 s, ``/drop`` closes without answering, others answer 503."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/drop":
            self.close_connection = True
            return
        if self.path == "/slow":
            time.sleep(1.0)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("path, error", [
    ("/slow", "ReadTimeout: {host} did not answer within 0.3 s"),
    ("/drop", "ConnectionError: {host} closed the connection without an answer"),
    ("/other", "the app answered HTTP 503; it must answer 200"),
])
def test_own_connections_name_what_went_wrong(path: str, error: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    deliver = PoolDeliverer(1, timeout=(1.0, 0.3))
    try:
        delivery = deliver(make_notice("S1", f"http://{host}{path}", [], "k"))
    finally:
        deliver.close()
        server.shutdown()
        server.server_close()
    assert not delivery.ok and (delivery.error or "").startswith(error.format(host=host))
    assert delivery.status == (503 if path == "/other" else None)


class _KeepAliveApp(BaseHTTPRequestHandler):
    """Answers 200 on a kept-alive connection; records the client's port of each request."""

    protocol_version = "HTTP/1.1"
    ports: list[int] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_deliveries_give_up_a_connection_before_the_app_closes_it_as_idle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # An app server closes idle keep-alive connections (gunicorn after 2 s); a notification
    # sent on one as it closes would be lost. Connections idle past the limit are not reused.
    monkeypatch.setattr(notifier._IdleLimited, "idle_limit", 0.2)
    _KeepAliveApp.ports = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveApp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        deliver = PoolDeliverer(2, timeout=(1.0, 1.0))
        for pause in (0.0, 0.0, 0.3, 0.0):
            time.sleep(pause)
            assert deliver(make_notice("S1", url, [("call_state", "ongoing")], "k")).ok
        deliver.close()
    finally:
        server.shutdown()
        server.server_close()
    first, second, third, fourth = _KeepAliveApp.ports
    assert first == second                  # back to back: the connection is kept
    assert third != second                  # idle past the limit: a new connection
    assert fourth == third


@pytest.fixture
def https_app(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An app over TLS with a self-signed certificate: its URL and the certificate's file."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveApp)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/hook", str(cert)
    finally:
        server.shutdown()
        server.server_close()


def test_https_apps_are_verified_with_the_ca_bundle_requests_would_use(
        https_app: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    url, cert = https_app
    notice = make_notice("S1", url, [("call_state", "ringing")], "k")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    untrusted = PoolDeliverer(1, timeout=(2.0, 2.0))
    refused = untrusted(notice)
    untrusted.close()
    assert (refused.error or "").startswith("SSLError") and "CERTIFICATE_VERIFY_FAILED" in \
        (refused.error or "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    trusted = PoolDeliverer(1, timeout=(2.0, 2.0))
    delivered = trusted(notice)
    trusted.close()
    assert delivered.ok and delivered.status == 200


def test_an_in_process_app_that_raises_is_a_failed_delivery() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise KeyError("the app crashed")

    with requests.Session() as http, Simulator(clock=VirtualClock(), http=http) as sim:
        http.mount("http://app.test/", WSGIAdapter(app))
        sim.add_account(APP_ID, TOKEN)
        sim.add_number(NUMBER, "http://app.test/answer")
        session = sim.call(CALLER, NUMBER)
        (entry,) = [e for e in sim.get_call(session)["timeline"] if e["type"] == "notification"]
    assert entry["delivered"] is False and entry["reply_status"] is None
    assert "ConnectionError" in entry["error"] and "the app crashed" in entry["error"]


def test_inline_outbox_delivers_in_order_without_recursion() -> None:
    delivered: list[str] = []
    depth = [0]
    outbox: InlineOutbox

    def deliver(notice: Notice) -> Delivery:
        depth[0] += 1
        assert depth[0] == 1, "a delivery started inside another"
        delivered.append(notice.session)
        if notice.session == "A":                       # a handler causes more notifications
            outbox.submit(make_notice("B", "http://x/", [], "k"))
            outbox.flush()                              # a nested flush is a no-op
        depth[0] -= 1
        return Delivery(200, 0.0)

    outbox = InlineOutbox(deliver, lambda n: None, lambda n, t, d: None)
    outbox.submit(make_notice("A", "http://x/", [], "k"))
    outbox.submit(make_notice("C", "http://x/", [], "k"))
    outbox.flush()
    assert delivered == ["A", "C", "B"]


def test_pooled_outbox_one_at_a_time_per_call_calls_in_parallel() -> None:
    b_started = threading.Event()
    lock = threading.Lock()
    running: dict[str, int] = {"A": 0, "B": 0}
    overlap: list[str] = []
    order: list[str] = []
    done = threading.Semaphore(0)

    def deliver(notice: Notice) -> Delivery:
        session, n = notice.session, notice.field("n")
        with lock:
            running[session] += 1
            assert running[session] == 1, "two deliveries of one call at once"
            order.append(f"{session}{n}")
        if session == "A" and n == "1":
            # Only returns once B is being delivered: the calls run in parallel.
            assert b_started.wait(5)
            overlap.append("yes")
        if session == "B":
            b_started.set()
        with lock:
            running[session] -= 1
        return Delivery(200, 0.0)

    outbox = PooledOutbox(deliver, lambda n: None, lambda n, t, d: done.release(), workers=2)
    try:
        for n in "123":
            outbox.submit(make_notice("A", "http://x/", [("n", n)], "k"))
        outbox.submit(make_notice("B", "http://x/", [("n", "1")], "k"))
        for _ in range(4):
            assert done.acquire(timeout=5)
    finally:
        outbox.close()
    assert overlap == ["yes"]
    assert [o for o in order if o.startswith("A")] == ["A1", "A2", "A3"]


def test_the_notification_of_a_block_comes_after_its_request(world: World) -> None:
    world.answer_with(PLAY, msg="x", notify_url=world.url("play"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    kinds = [(e["type"], e.get("ivr_block")) for e in world.sim.get_call(session)["timeline"]
             if e["type"] in ("request", "notification")]
    assert kinds[:3] == [("notification", "answer"), ("request", None),
                         ("notification", "play")]

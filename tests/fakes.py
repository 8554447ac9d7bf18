"""A fake Hoiio REST API over real HTTP, for the client's tests.

:class:`FakeHoiio` is an ``http.server`` bound to 127.0.0.1 on port 0, serving in a thread.
It records every request (method, path, raw query, raw body, headers and the client's
address, so tests can count hits and connections) and answers through ``respond``: a
function of the :class:`Hit` that returns a :class:`Reply`, a dict (sent as JSON), or
:data:`STALL` / :data:`DROP` to simulate a provider that never answers or that closes the
connection after reading the request. Close it (or use it as a context manager) so that
no socket or thread outlives the test.
"""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union
from urllib.parse import parse_qsl, urlsplit

#: ``respond`` returns this to hold the request until the server closes (a stalled provider).
STALL = "stall"
#: ``respond`` returns this to close the connection after reading the request, with no reply.
DROP = "drop"
#: The longest a stalled request is held; the server's close releases it sooner.
STALL_LIMIT = 10.0


@dataclass(frozen=True)
class Hit:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    peer: tuple[str, int]

    @property
    def form(self) -> dict[str, str]:
        """Query-string and body parameters merged, as Hoiio merges them."""
        pairs = parse_qsl(self.query, keep_blank_values=True, strict_parsing=False)
        pairs += parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)
        return dict(pairs)


@dataclass(frozen=True)
class Reply:
    """An HTTP reply: status code, raw body, content type and any other headers."""

    body: bytes = b""
    code: int = 200
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


Respond = Callable[[Hit], Union[Reply, dict, str]]


def hoiio_like(hit: Hit) -> dict[str, str]:
    """Success replies shaped like Hoiio's: ids for Dial, a room for a Transfer to a room."""
    reply = {"status": "success_ok"}
    if hit.path.endswith("/ivr/start/dial"):
        reply.update(txn_ref="AA-C-1001", session="S1001")
    dest = hit.form.get("dest", "")
    if hit.path.endswith("/ivr/end/transfer") and dest.startswith("room:"):
        reply["room"] = dest[len("room:"):] or "R-1"
    return reply


@dataclass
class FakeHoiio:
    """The fake server. ``url`` is the base URL to give the client (``.../open/``)."""

    respond: Respond = hoiio_like
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._server.timeout = None  # handle_request waits for a connection, no polling
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping:
            self._server.handle_request()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/open/"

    @property
    def connections(self) -> set[tuple[str, int]]:
        """The distinct client (address, port) pairs seen: one per TCP connection."""
        return {hit.peer for hit in self.hits}

    def record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def wait_released(self) -> None:
        self._release.wait(STALL_LIMIT)

    def close(self) -> None:
        self._release.set()
        self._stopping = True
        # One last connection wakes the serving loop, which then sees _stopping.
        socket.create_connection(self._server.server_address[:2]).close()
        self._thread.join()
        self._server.server_close()  # joins the handler threads

    def __enter__(self) -> FakeHoiio:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, so connection reuse can be observed
    timeout = 5                     # an idle keep-alive connection ends by itself

    def setup(self) -> None:
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every reply.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake: FakeHoiio = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        hit = Hit(self.command, parts.path, parts.query, body, dict(self.headers.items()),
                  self.client_address)
        fake.record(hit)
        answer = fake.respond(hit)
        if answer == STALL:
            fake.wait_released()
            self.close_connection = True
            return
        if answer == DROP:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        reply = answer if isinstance(answer, Reply) else Reply(json.dumps(answer).encode())
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass

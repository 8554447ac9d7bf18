"""Requests served from a WSGI app, in-process: :class:`WSGIAdapter`, a requests transport
adapter, and :class:`WSGISession`, a session-like object with no requests in between.

Mount the adapter on a ``requests.Session`` and every request to that prefix is answered by the
app, with no socket::

    http = requests.Session()
    http.mount("http://app.test/", WSGIAdapter(flask_app))
    http.post("http://app.test/hoiio/answer", data={"session": "S1"})

The app sees exactly what a server would give it: the method, the raw body bytes, the
headers, the path and the query string; the caller gets a real ``requests.Response``,
whose ``raw`` is a urllib3 response as off a socket (repeated headers such as
``Set-Cookie`` stay apart in ``raw.headers``).
The simulator delivers notifications to an in-process app this way if given such a
Session, and an app's ``HoiioClient(session=...)`` may reach ``Simulator.wsgi_app`` the
same way.

:class:`WSGISession` does the same without requests in between: a session-like object
whose :meth:`~WSGISession.request` builds the WSGI environ and calls the app directly,
answering with a :class:`WSGIResponse` (what a client reads of a ``requests.Response``:
``status_code``, ``headers``, ``content``, ``text``, ``json()``). An app raising is
``requests.ConnectionError`` there too, so a client's error handling is the same. Hand it
to a ``HoiioClient(session=...)`` or to ``Simulator(http=...)``; ``hoiivr.testing.Phone``
wires both directions this way::

    sim = Simulator(http=WSGISession(flask_app, "http://app.test"))
    client = HoiioClient("APP", "TOKEN", base_url="http://hoiio.sim/open/",
                         session=WSGISession(sim.wsgi, "http://hoiio.sim"))
"""
from __future__ import annotations

import functools
import io
import json
import re
import sys
import time
from datetime import timedelta
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote_plus, unquote_to_bytes, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict, HTTPResponse

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: What form encoding leaves as it is (``quote_plus``'s always-safe characters).
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


def form_encode(pairs: Iterable[tuple[str, object]]) -> str:
    """``urlencode(pairs)`` for text pairs, in half its time: most names and values (a
    session id, a state, digits) need no quoting, and are told so by one regex match
    rather than by ``quote_plus``'s encoding and scanning."""
    return "&".join([f"{_quoted(name)}={_quoted(value)}" for name, value in pairs])


def _quoted(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if _UNQUOTED.fullmatch(text) else quote_plus(text)


class WSGIAdapter(BaseAdapter):
    """Answers requests by calling ``app(environ, start_response)`` in this thread.

    Timeouts do not apply (nothing is on the wire). An exception raised by the app becomes
    ``requests.ConnectionError`` (chained to it), as a crashed server would look to a client.
    """

    def __init__(self, app: WSGIApp, remote_addr: str = "127.0.0.1") -> None:
        super().__init__()
        self.app = app
        self.remote_addr = remote_addr

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        began = time.monotonic()
        body = _body_bytes(request.body)
        environ = self._environ(request, body)
        try:
            status, headers, content = _run(self.app, environ)
        except Exception as exc:
            raise requests.ConnectionError(f"the WSGI app behind {request.url} raised "
                                           f"{type(exc).__name__}: {exc}",
                                           request=request) from exc
        return self._response(request, status, headers, content, time.monotonic() - began)

    def close(self) -> None:
        """Nothing to release: there are no connections."""

    def _environ(self, request: requests.PreparedRequest, body: bytes) -> dict[str, Any]:
        return environ_for(request.method or "GET", request.url or "", body,
                           request.headers.items(), self.remote_addr)

    def _response(self, request: requests.PreparedRequest, status: str,
                  headers: list[tuple[str, str]], content: bytes,
                  seconds: float) -> requests.Response:
        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code = int(code)
        response.reason = reason
        merged: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in headers:
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        response.headers = merged
        # Read on demand from ``raw``, as a response streamed off a socket is. A HEAD
        # answer keeps the Content-Length of its GET: the length is not enforced.
        response.raw = HTTPResponse(io.BytesIO(content), HTTPHeaderDict(headers), int(code),
                                    reason=reason, preload_content=False,
                                    enforce_content_length=False,
                                    request_method=request.method, request_url=request.url)
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]
        response.encoding = get_encoding_from_headers(merged)
        response.elapsed = timedelta(seconds=seconds)
        return response


class WSGIResponse:
    """A WSGI app's answer, read as a client reads a ``requests.Response``: ``status_code``,
    ``reason``, ``headers`` (repeated ones joined with ``", "``; :attr:`header_list` keeps
    them apart), ``content``, ``text``, ``json()``, ``ok`` and ``raise_for_status()``."""

    def __init__(self, url: str, status: str, header_list: list[tuple[str, str]],
                 content: bytes) -> None:
        code, _, self.reason = status.partition(" ")
        self.status_code = int(code)
        self.url = url
        #: Every header as the app gave it, in order, a repeated one once per value.
        self.header_list = header_list
        self.content = content

    @functools.cached_property
    def headers(self) -> CaseInsensitiveDict[str]:
        merged: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in self.header_list:
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        return merged

    @property
    def encoding(self) -> str | None:
        """The charset the headers give (as requests reads them), else None."""
        return get_encoding_from_headers(self.headers)

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding`, else as UTF-8 (bad bytes replaced)."""
        return self.content.decode(self.encoding or "utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ``requests.JSONDecodeError`` (a ``ValueError``) if it is not."""
        try:
            return json.loads(self.content)
        except ValueError as exc:
            doc = self.content.decode("utf-8", errors="replace")
            raise requests.JSONDecodeError(str(exc), doc, 0) from exc

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def raise_for_status(self) -> None:
        """``requests.HTTPError`` for a 4xx or 5xx answer, as requests raises it."""
        if not self.ok:
            side = "Client" if self.status_code < 500 else "Server"
            raise requests.HTTPError(f"{self.status_code} {side} Error: {self.reason} for "
                                     f"url: {self.url}")

    def close(self) -> None:
        """Nothing to release: the body is read already."""

    def __enter__(self) -> WSGIResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<WSGIResponse [{self.status_code}]>"


class WSGISession:
    """A session-like object that answers requests by calling ``app`` directly.

    ``root`` (e.g. ``"http://app.test"``): the URLs the app serves; a request for another
    is ``requests.ConnectionError``, as if nothing listened there (by default the app
    serves every URL). No cookies are kept, no redirect followed, and timeouts do not
    apply. An exception raised by the app becomes ``requests.ConnectionError`` chained to
    it, as with :class:`WSGIAdapter`.
    """

    def __init__(self, app: WSGIApp, root: str | None = None,
                 remote_addr: str = "127.0.0.1") -> None:
        self.app = app
        self.root = root.rstrip("/") + "/" if root else None
        self.remote_addr = remote_addr

    def request(self, method: str, url: str, params: Mapping[str, Any] | None = None,
                data: Mapping[str, Any] | bytes | None = None,
                headers: Mapping[str, str] | None = None, *,
                timeout: float | tuple[float, float] | None = None,
                allow_redirects: bool = True) -> WSGIResponse:
        """Send a request: ``params`` go in the query string, a mapping ``data`` as a form
        (a value that is a list once per item), bytes ``data`` as they are."""
        sent = dict(headers or {})
        if params:
            url += ("&" if "?" in url else "?") + _form(params)
        if isinstance(data, Mapping):
            body = _form(data).encode("utf-8")
            if not any(name.lower() == "content-type" for name in sent):
                sent["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = data or b""
        return self.send(method, url, body, sent.items())

    def post(self, url: str, data: Mapping[str, Any] | bytes | None = None,
             **options: Any) -> WSGIResponse:
        return self.request("POST", url, data=data, **options)

    def get(self, url: str, params: Mapping[str, Any] | None = None,
            **options: Any) -> WSGIResponse:
        return self.request("GET", url, params=params, **options)

    def send(self, method: str, url: str, body: bytes = b"",
             headers: Iterable[tuple[str, str]] = ()) -> WSGIResponse:
        """Call the app with exactly this request (the body's bytes and the headers as
        given); the lowest level, with nothing encoded for you."""
        if self.root is not None and not url.startswith(self.root):
            raise requests.ConnectionError(f"nothing in-process serves {url}; this "
                                           f"WSGISession serves {self.root}")
        environ = environ_for(method, url, body, headers, self.remote_addr)
        try:
            status, header_list, content = _run(self.app, environ)
        except Exception as exc:
            raise requests.ConnectionError(f"the WSGI app behind {url} raised "
                                           f"{type(exc).__name__}: {exc}") from exc
        return WSGIResponse(url, status, header_list, content)

    def close(self) -> None:
        """Nothing to release: there are no connections."""

    def __enter__(self) -> WSGISession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _form(fields: Mapping[str, Any]) -> str:
    """A mapping as requests encodes it: a list value once per item, others as text."""
    if all(type(value) is str for value in fields.values()):
        return form_encode(fields.items())
    return urlencode(fields, doseq=True)


def environ_for(method: str, url: str, body: bytes, headers: Iterable[tuple[str, Any]],
                remote_addr: str = "127.0.0.1") -> dict[str, Any]:
    """The WSGI environ a server would give an app for this request (PEP 3333)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    raw_uri = path + (f"?{parts.query}" if parts.query else "")
    name, port = _server(parts.scheme, parts.netloc)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        # PEP 3333: PATH_INFO is percent-decoded, its bytes carried as latin-1 text.
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": parts.query,
        "RAW_URI": raw_uri, "REQUEST_URI": raw_uri,
        "SERVER_NAME": name, "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote_addr, "REMOTE_PORT": "0",
        "HTTP_HOST": parts.netloc,
        "wsgi.version": (1, 0), "wsgi.url_scheme": parts.scheme or "http",
        # The body is all there: no server-side stream limiting is needed (PEP 3333's
        # extension, which werkzeug honours by reading the stream as it is).
        "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers:
        key = name.upper().replace("-", "_")
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if key == "CONTENT_TYPE":
            environ[key] = text
        elif key != "CONTENT_LENGTH":
            environ["HTTP_" + key] = text
    return environ


@functools.lru_cache(maxsize=64)
def _server(scheme: str, netloc: str) -> tuple[str, str]:
    """SERVER_NAME and SERVER_PORT for a URL's host: parsed once per host, not per request."""
    parts = urlsplit(f"{scheme}://{netloc}")
    return parts.hostname or "localhost", str(parts.port or (443 if scheme == "https" else 80))


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        # http.client sends a str body as ISO-8859-1; do the same (UTF-8 if it cannot be).
        try:
            return body.encode("latin-1")
        except UnicodeEncodeError:
            return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


def _run(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [(status, list(headers))]
        return written.append

    result = app(environ, start_response)
    try:
        chunks = written + [bytes(chunk) for chunk in result]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    status, headers = started[0]
    return status, headers, b"".join(chunks)

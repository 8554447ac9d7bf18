"""A requests transport adapter that serves requests from a WSGI app, in-process.

Mount it on a ``requests.Session`` and every request to that prefix is answered by the
app, with no socket::

    http = requests.Session()
    http.mount("http://app.test/", WSGIAdapter(flask_app))
    http.post("http://app.test/hoiio/answer", data={"session": "S1"})

The app sees exactly what a server would give it: the method, the raw body bytes, the
headers, the path and the query string; the caller gets a real ``requests.Response``,
whose ``raw`` is a urllib3 response as off a socket (repeated headers such as
``Set-Cookie`` stay apart in ``raw.headers``).
The simulator delivers notifications to an in-process app this way, and an app's
``HoiioClient(session=...)`` reaches ``Simulator.wsgi_app`` the same way.
"""
from __future__ import annotations

import io
import sys
import time
from datetime import timedelta
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict, HTTPResponse

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


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
        url = urlsplit(request.url or "")
        path = url.path or "/"
        raw_uri = path + (f"?{url.query}" if url.query else "")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": (request.method or "GET").upper(),
            "SCRIPT_NAME": "",
            # PEP 3333: PATH_INFO is percent-decoded, its bytes carried as latin-1 text.
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": url.query,
            "RAW_URI": raw_uri, "REQUEST_URI": raw_uri,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr, "REMOTE_PORT": "0",
            "HTTP_HOST": url.netloc,
            "wsgi.version": (1, 0), "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if key == "CONTENT_TYPE":
                    environ[key] = text
            else:
                environ["HTTP_" + key] = text
        return environ

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

"""Keeping other web pages out: the simulator answers only its own page and non-browsers.

A browser lets any page it shows send requests to the simulator on loopback: a form POST
to ``/sim/numbers`` from another site, an ``<img>`` pointing at ``/open/ivr/start/dial``,
or, by DNS rebinding, a page of ``attacker.example`` that resolves to 127.0.0.1 and reads
every call. :class:`Guard`, a WSGI middleware in front of the whole app, refuses

- any request whose ``Host`` is not a name of the simulator (421): the loopback names, the
  host of its ``base_url`` and the names it was given (``allowed_hosts``);
- a request that changes something (any method but GET, HEAD and OPTIONS, and every
  ``/open/`` request, which Hoiio accepts as GET too) when the browser says it comes from
  another origin (``Origin``) or another site (``Sec-Fetch-Site``) (403).

Apps and SDKs send neither ``Origin`` nor ``Sec-Fetch-Site`` and keep working; the page
served at ``/`` is of the simulator's own origin. Every reply also tells the browser not to
guess content types (``nosniff``) nor to show the simulator inside another page's frame.
"""
from __future__ import annotations

import functools
import json
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from .transport import WSGIApp

#: Always a name of the simulator: a page of another site cannot make a browser send them.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What Sec-Fetch-Site says of a request made by a page of another origin.
FOREIGN_SITES = frozenset({"cross-site", "same-site"})
DEFAULT_PORTS = {"http": "80", "https": "443"}
HEADERS = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")]


def host_name(host: str) -> str:
    """The name in a ``Host`` header or URL netloc, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def origin_of(scheme: str, host: str) -> str:
    """``scheme://host[:port]`` as a browser writes an ``Origin``, default port left out."""
    scheme, host = scheme.lower(), host.strip().lower()
    default = DEFAULT_PORTS.get(scheme)
    if default and host.endswith(f":{default}") and not host.endswith("]"):
        host = host[:-len(default) - 1]
    return f"{scheme}://{host}"


class Guard:
    """WSGI middleware: refuses foreign hosts and cross-site changes (see the module).

    ``hosts()`` gives the names the simulator answers to besides :data:`LOOPBACK_NAMES`;
    it is asked on each request, since a server learns its address only once bound.
    """

    def __init__(self, app: WSGIApp, hosts: Callable[[], Iterable[str]]) -> None:
        self.app = app
        self.hosts = hosts

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = self.refusal(environ)
        if refusal is not None:
            code, message = refusal
            body = json.dumps({"error": message}).encode("utf-8")
            start_response(code, [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), *HEADERS])
            return [body]

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {name.lower() for name, _ in headers}
            extra = [(name, value) for name, value in HEADERS if name.lower() not in names]
            return start_response(status, headers + extra, exc_info)
        return self.app(environ, respond)

    def refusal(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """``(status, message)`` if the request must be refused, else None."""
        host = environ.get("HTTP_HOST", "")
        allowed = _names(tuple(self.hosts()))
        if host and host_name(host) not in allowed:
            return ("421 Misdirected Request",
                    f"Host {host!r} is not a name of this simulator (it answers to "
                    f"{', '.join(sorted(allowed))}); if you reach it by that name, start it "
                    f"with --allow-host {host_name(host)} (Simulator(allowed_hosts=[...]))")
        if environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS and \
                not environ.get("PATH_INFO", "").startswith("/open/"):
            return None
        origin = environ.get("HTTP_ORIGIN")
        own = origin_of(environ.get("wsgi.url_scheme", "http"), host or "")
        if origin is not None and origin_of(*_split_origin(origin)) != own:
            return ("403 Forbidden",
                    f"a page of {origin} may not change the simulator; use the simulator's "
                    f"own page ({own}/) or call it from a program, which sends no Origin")
        site = environ.get("HTTP_SEC_FETCH_SITE", "").lower()
        if origin is None and site in FOREIGN_SITES:
            return ("403 Forbidden",
                    f"a request from another site ({site}) may not change the simulator; "
                    "use the simulator's own page or call it from a program")
        return None


@functools.lru_cache(maxsize=64)
def _names(hosts: tuple[str, ...]) -> frozenset[str]:
    """The names the simulator answers to, given its own: read once, not per request."""
    return LOOPBACK_NAMES | {host_name(h) for h in hosts if h}


def _split_origin(origin: str) -> tuple[str, str]:
    parts = urlsplit(origin.strip())
    # "null" (a sandboxed frame, a file:// page) never matches a real origin.
    return (parts.scheme or "null", parts.netloc or origin)

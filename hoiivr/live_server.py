"""A WSGI app on a real socket, served from a background thread: :class:`LiveServer`.

The simulator's server (:class:`hoiivr.simulator.SimulatorServer`) is one; end-to-end tests
serve their Flask app with another, so that app and simulator talk real HTTP::

    from hoiivr.testing import LiveServer

    with LiveServer(app) as server:          # port 0: any free port
        sim.add_number("+6560000000", server.url + "/hoiio/answer")
        ...
"""
from __future__ import annotations

import socket
import threading
from typing import Any, TypeVar

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["LiveServer"]

_L = TypeVar("_L", bound="LiveServer")


class LiveServer:
    """Serves ``wsgi_app`` with werkzeug's threaded server on ``host:port``.

    ``port=0`` picks a free port; :attr:`url` tells which once bound. :meth:`start` binds
    and serves from a daemon thread; :meth:`serve_forever` serves in the calling thread.
    """

    #: werkzeug's request handler; a subclass may quieten its access log.
    handler: type[WSGIRequestHandler] = WSGIRequestHandler

    def __init__(self, wsgi_app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.wsgi_app = wsgi_app
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, with the port actually bound."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> None:
        """Listen on the address; ``OSError`` if it is taken. :meth:`start` does this."""
        if self._server is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # Bound here rather than by werkzeug, which exits the process when a port is taken.
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
            self._server = make_server(self.host, self.port, self.wsgi_app, threaded=True,
                                       request_handler=self.handler, fd=sock.fileno())
        self.port = self._server.port

    def start(self: _L) -> _L:
        """Serve from a background thread; returns ``self``."""
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"hoiivr-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C raises ``KeyboardInterrupt``)."""
        self.bind()
        assert self._server is not None
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving and close the socket; stopping twice does nothing."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join(5)
            self._thread = None
        server.server_close()

    def __enter__(self: _L) -> _L:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

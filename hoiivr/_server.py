"""A WSGI app on a real socket, with a clean stop: the one server every command uses.

``hoiivr run`` serves an app in the main thread until Ctrl-C or ``kill``; ``hoiivr dev``,
the simulator's server and the end-to-end tests serve from background threads::

    with Server(app, port=0) as server:      # port 0: any free port
        print(server.url)                    # http://127.0.0.1:PORT

The socket is bound first (:meth:`Server.bind`), so a taken port is reported before
anything else happens and a tunnel can be opened to the port, then the app is served
with werkzeug's threaded server.
"""
from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, TypeVar

from werkzeug.serving import (BaseWSGIServer, WSGIRequestHandler, get_sockaddr, make_server,
                              select_address_family)

__all__ = ["QuietHandler", "Server", "sigterm_as_interrupt"]

_S = TypeVar("_S", bound="Server")


class QuietHandler(WSGIRequestHandler):
    """werkzeug's request handler without its line per request (warnings still show)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Server:
    """Serves ``wsgi_app`` on ``host:port`` with werkzeug's threaded server.

    ``port=0`` picks a free port; :attr:`url` tells which once bound. :meth:`start` serves
    from a daemon thread; :meth:`serve_forever` in the calling thread until Ctrl-C,
    SIGTERM or :meth:`stop`.
    """

    #: werkzeug's request handler; :class:`QuietHandler` drops the access log.
    handler: type[WSGIRequestHandler] = WSGIRequestHandler

    def __init__(self, wsgi_app: Any, host: str = "127.0.0.1", port: int = 0, *,
                 quiet: bool = False) -> None:
        self.wsgi_app = wsgi_app
        self.host = host
        self.port = port
        if quiet:
            self.handler = QuietHandler
        self._socket: socket.socket | None = None
        self._server: BaseWSGIServer | None = None
        #: The thread serving requests, while one is.
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, with the port actually bound."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> None:
        """Listen on the address; ``OSError`` if it is taken (``errno.EADDRINUSE``)."""
        if self._socket is not None:
            return
        family = select_address_family(self.host, self.port)
        # Bound here rather than by werkzeug, which exits the process when a port is taken.
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(get_sockaddr(self.host, self.port, family))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]

    def _make(self) -> BaseWSGIServer:
        self.bind()
        assert self._socket is not None
        if self._server is None:
            self._server = make_server(self.host, self.port, self.wsgi_app, threaded=True,
                                       request_handler=self.handler,
                                       fd=self._socket.fileno())
        return self._server

    def start(self: _S) -> _S:
        """Serve from a background thread; returns ``self``."""
        server = self._make()
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"hoiivr-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM (in the main thread), or until
        another thread calls :meth:`stop`; then close the socket."""
        server = self._make()
        self._thread = threading.current_thread()
        try:
            with sigterm_as_interrupt():
                server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._thread = None
            self.stop()

    def stop(self) -> None:
        """Stop serving and close the socket; stopping twice does nothing."""
        server, self._server = self._server, None
        sock, self._socket = self._socket, None
        thread, self._thread = self._thread, None
        if server is not None:
            if thread is not None and thread is not threading.current_thread():
                server.shutdown()        # returns once the serving loop has stopped
                if thread.daemon:
                    thread.join(5)
            server.server_close()
        if sock is not None:
            sock.close()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """``kill`` stops a command as cleanly as Ctrl-C (only the main thread can do this)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt

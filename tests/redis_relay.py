"""A TCP relay to the real Redis, with switches for the faults a network has: ``down()``
closes every connection and refuses new ones, as a killed server would; ``hang()``
accepts and never answers; ``lose_reply_to(marker)`` lets the next command holding
``marker`` reach Redis and run, then drops the connection before its reply gets back."""
from __future__ import annotations

import socket
import threading


class Relay:
    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 6379)) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode = "relay"
        self.lost = 0                     # replies dropped by lose_reply_to
        self._marker: bytes | None = None
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(conn)
            if self.mode == "relay":
                upstream = socket.create_connection(self.target)
                self.sockets.append(upstream)
                muted = threading.Event()       # the reply on its way is to be lost
                threading.Thread(target=self._requests, args=(conn, upstream, muted),
                                 daemon=True).start()
                threading.Thread(target=self._replies, args=(upstream, conn, muted),
                                 daemon=True).start()

    def hang(self) -> None:
        self.mode = "hang"

    def down(self) -> None:
        self.mode = "down"
        _close(self.listener)               # shut down first: that wakes the accept()
        for sock in self.sockets:
            _close(sock)

    def lose_reply_to(self, marker: bytes) -> None:
        self._marker = marker

    def close(self) -> None:
        self.down()
        self.thread.join(5)

    def _requests(self, client: socket.socket, upstream: socket.socket,
                  muted: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    muted.set()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _replies(self, upstream: socket.socket, client: socket.socket,
                 muted: threading.Event) -> None:
        try:
            while data := upstream.recv(65536):
                if muted.is_set():            # Redis ran it; the client hears nothing
                    self.lost += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

"""A TCP proxy to the real Redis that loses one reply: the command reaches Redis and runs,
then the client's connection drops before the answer gets back, as on a network reset."""
from __future__ import annotations

import socket
import threading


class LossyProxy:
    """Forwards connections on ``port`` to ``target``; after :meth:`lose_reply_to`, the
    next command containing those bytes runs, but its reply is dropped with the client's
    connection."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 6379)) -> None:
        self.target = target
        self.lost = 0
        self._marker: bytes | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_reply_to(self, marker: bytes) -> None:
        self._marker = marker

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return                                  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.target) as server:
            server.settimeout(5)
            while data := client.recv(65536):
                server.sendall(data)
                reply = server.recv(65536)              # small replies come in one piece
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    self.lost += 1
                    return                              # Redis ran it; the client hears nothing
                client.sendall(reply)

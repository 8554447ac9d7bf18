"""Serving the simulator over HTTP: :class:`SimulatorServer`."""
from __future__ import annotations

from .._server import Server
from .web import Simulator


class SimulatorServer(Server):
    """Serves ``sim.wsgi_app`` with werkzeug's threaded server.

    ``port=0`` picks a free port; :attr:`url` tells which. Binding sets ``sim.base_url``
    so that recordings are served from this address::

        server = SimulatorServer(sim, port=0)
        server.start()
        client = HoiioClient("APP", "TOKEN", base_url=server.url + "/open/")
        ...
        server.stop()

    The REST API is under ``/open/``, the control API under ``/sim/``.
    """

    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        # The simulator logs its own line per request: werkzeug's access log is dropped.
        super().__init__(sim.wsgi_app, host, port, quiet=True)
        self.sim = sim

    def bind(self) -> None:
        super().bind()
        self.sim.base_url = self.url

"""An example app and the simulator on loopback ports, for a real browser.

``Line`` serves ``examples/auto_attendant.py`` (or another example) with werkzeug and a
:class:`SimulatorServer`
on a :class:`RealClock` running ``speed`` times faster than life, the example's number
routed to the app, the app's client pointed at the simulator (the wiring of
``tests/e2e/conftest.py``). The browser opens :attr:`Line.url`.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

from hoiivr.client import HoiioClient
from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.testing import LiveServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NUMBER = "+6560000000"
#: The simulator account the example app is wired to.
APP_ID, TOKEN = "browser-app", "browser-token"
#: Fast enough for a quick suite, slow enough for the page's 500 ms polls to see each step.
SPEED = 10.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required"]


def chromium() -> str | None:
    """Debian's Chromium, or the one on PATH."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` fresh (its module-level lists start empty)."""
    module_name = f"hoiivr_browser_example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    return module


class Line:
    """The example app and the simulator, each on its own port."""

    def __init__(self, speed: float = SPEED, example: str = "auto_attendant") -> None:
        self.speed = speed
        self.example = load_example(example)
        app = self.example.app
        self.app_id, self.token = APP_ID, TOKEN
        self.sim = self._simulator()
        self.sim_server = SimulatorServer(self.sim)
        self.sim_server.start()
        self.app_server = LiveServer(app).start()
        self.client = HoiioClient(APP_ID, TOKEN, base_url=self.sim_server.url + "/open/")
        self.example.ivr.init_app(app, client=self.client, public_url=self.app_server.url,
                                  secret_key="browser-secret")
        self.mount = app.extensions["hoiivr"]
        self.answer_url = self.app_server.url + self.mount.url_prefix + "/answer"
        self.sim.add_number(NUMBER, self.answer_url)

    def _simulator(self) -> Simulator:
        sim = Simulator(clock=RealClock(speed=self.speed))
        sim.add_account(self.app_id, self.token)
        return sim

    def restart_simulator(self) -> None:
        """Stop the simulator and start a new one, empty, on the same port."""
        port = self.sim_server.port
        self.sim_server.stop()
        self.sim.close()
        self.sim = self._simulator()
        self.sim_server = SimulatorServer(self.sim, port=port)
        self.sim_server.start()
        self.sim.add_number(NUMBER, self.answer_url)

    @property
    def url(self) -> str:
        """The softphone's page."""
        return self.sim_server.url + "/"

    def close(self) -> None:
        self.app_server.stop()
        self.sim_server.stop()
        self.sim.close()
        self.mount.close()
        self.client.close()

"""Two ways to run the DESIGN.md app against the simulator, behind one small driver.

``inprocess``: :class:`hoiivr.testing.Phone` (virtual clock, WSGI, no socket).
``http``: the simulator's server and the app's werkzeug server on loopback ports, real
HTTP both ways, the simulator on a real clock running 25 times faster than life.
"""
from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.testing import LiveServer, Phone

from .design_app import create_app

NUMBER = "+6560000000"
SPEED = 25.0


class HttpCall:
    """The part of PhoneCall's interface the tests use, on a real clock."""

    def __init__(self, sim: Simulator, session: str) -> None:
        self.sim = sim
        self.session = session

    @property
    def info(self) -> dict[str, Any]:
        return self.sim.get_call(self.session)

    @property
    def prompts(self) -> list[str]:
        return self.info["prompts"]

    @property
    def last_prompt(self) -> str | None:
        return self.prompts[-1] if self.prompts else None

    @property
    def call_state(self) -> str:
        state = self.info["state"]
        return state if state in ("ringing", "ended") else "ongoing"

    @property
    def transferred_to(self) -> str | None:
        return self.info["transferred_to"]

    def settle(self) -> HttpCall:
        self.sim.settle(self.session, limit=30)
        return self

    def press(self, digits: str) -> HttpCall:
        self.sim.press(self.session, digits)
        return self.settle()

    def speak(self, seconds: float) -> HttpCall:
        self.sim.speak(self.session, seconds=seconds)
        return self.settle()

    def wait(self, seconds: float) -> HttpCall:
        time.sleep(seconds / SPEED)
        return self.settle()

    def hangup(self) -> HttpCall:
        self.sim.hangup(self.session)
        return self.settle()


class HttpPhone:
    def __init__(self) -> None:
        self.sim = Simulator(clock=RealClock(speed=SPEED))
        self.sim.add_account("design-app", "design-token")
        self.sim_server = SimulatorServer(self.sim)
        self.sim_server.start()
        # Served before the app exists (it must know its own URL): _Lazy finds it later.
        self.app_server = LiveServer(_Lazy(self)).start()
        app_url = self.app_server.url
        self.app = create_app(HOIIO_API_URL=self.sim_server.url + "/open/",
                              HOIIVR_PUBLIC_URL=app_url)
        self.sim.add_number(NUMBER, app_url + "/hoiio/answer")

    def call(self, from_number: str = "+6591234567") -> HttpCall:
        return HttpCall(self.sim, self.sim.call(from_number, NUMBER)).settle()

    def set_behaviour(self, number: str, behaviour: str, talk_seconds: float = 30) -> None:
        self.sim.set_phone(number, behaviour, talk_seconds=talk_seconds)

    def dialled(self) -> list[HttpCall]:
        return [HttpCall(self.sim, c["session"]).settle() for c in self.sim.calls()
                if c["direction"] == "outbound"]

    def close(self) -> None:
        self.app_server.stop()
        self.sim_server.stop()
        self.sim.close()
        self.app.extensions["hoiivr"].close()


class _Lazy:
    """The app is made after its server is bound, since its config needs the server's URL."""

    def __init__(self, phone: HttpPhone) -> None:
        self.phone = phone

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.phone.app(environ, start_response)


class InProcessPhone:
    def __init__(self) -> None:
        self.app = create_app()
        self.phone = Phone(self.app, number=NUMBER)

    def call(self, from_number: str = "+6591234567"):
        return self.phone.call(from_number)

    def set_behaviour(self, number: str, behaviour: str, talk_seconds: float = 30) -> None:
        self.phone.set_behaviour(number, behaviour, talk_seconds)

    def dialled(self):
        return self.phone.dialled

    def close(self) -> None:
        self.phone.close()


@pytest.fixture(params=["inprocess", "http"])
def line(request: pytest.FixtureRequest) -> Iterator[Any]:
    phone = InProcessPhone() if request.param == "inprocess" else HttpPhone()
    yield phone
    phone.close()

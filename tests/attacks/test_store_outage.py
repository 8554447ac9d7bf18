"""The store fails (Redis down, hung, or killed mid-call): the caller hears the fallback,
never silence. The app and the simulator talk real HTTP; the store is a real Redis behind
a connection this test can cut."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from hoiivr import IVR, Gather, Hangup
from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.stores import RedisStore
from hoiivr.testing import LiveServer
from redis_relay import Relay

NUMBER, CALLER = "+6560000000", "+6591234567"
APOLOGY = "Sorry, something went wrong. Please call again later. Goodbye."


def menu_app(**config: Any) -> tuple[Flask, IVR]:
    app = Flask("outage_app")
    app.config.update(config)
    ivr = IVR(app)
    ivr.on_answer(lambda call: Gather("Press 1.", max_digits=1, name="menu"))
    ivr.on_gather("menu")(lambda call: Hangup("You pressed 1. Goodbye."))
    return app, ivr


@pytest.fixture
def line(redis_prefix: str) -> Iterator[Any]:
    """``line(cut, **config)``: the menu app on a real port, its store the real Redis
    through ``cut``, and a simulator on a real clock calling it; yields the simulator."""
    made: list[Any] = []

    def start(cut: Relay, **config: Any) -> Simulator:
        # No retries: a failing store is reported at once, within the simulator's wait.
        client = redis.Redis(port=cut.port, socket_timeout=0.5, socket_connect_timeout=0.5,
                             retry=Retry(NoBackoff(), 0))
        store = RedisStore(client, prefix=redis_prefix)
        sim = Simulator(clock=RealClock(speed=10))
        sim.add_account("outage-app", "outage-token")
        sim_server = SimulatorServer(sim).start()
        app, ivr = menu_app(**config)
        from hoiivr.carriers.hoiio import HoiioClient
        hoiio = HoiioClient("outage-app", "outage-token", base_url=sim_server.url + "/open/")
        app_server = LiveServer(app).start()
        ivr.init_app(app, client=hoiio, store=store, public_url=app_server.url,
                     secret_key="outage-secret")
        sim.add_number(NUMBER, app_server.url + "/hoiio/answer")
        made.append((sim, sim_server, app_server, app, client, hoiio, cut))
        return sim

    yield start
    for sim, sim_server, app_server, app, client, hoiio, cut in made:
        sim_server.stop()
        sim.close()
        app_server.stop()
        app.extensions["hoiivr"].close()
        hoiio.close()
        client.close()
        cut.close()


def heard(sim: Simulator, session: str) -> list[str]:
    sim.settle(session, limit=30)
    return list(sim.get_call(session)["prompts"])


@pytest.mark.parametrize("how", ["down", "hang"])
def test_a_store_that_fails_before_the_call_rings_gives_an_apology(line: Any, tally: Any,
                                                                   how: str) -> None:
    cut = Relay()
    getattr(cut, how)()
    sim = line(cut)
    session = sim.call(CALLER, NUMBER)
    prompts = heard(sim, session)
    info = sim.get_call(session)
    tally.add(f"store {how} when the call rings", 1, int(prompts != [APOLOGY]))
    assert prompts == [APOLOGY] and info["state"] == "ended"
    assert info["answered_at"] is not None        # answered, so the words were heard
    replies = [e["reply_status"] for e in info["timeline"] if e["type"] == "notification"]
    assert replies[0] == 200


def test_a_store_killed_mid_call_gives_an_apology(line: Any, tally: Any) -> None:
    cut = Relay()
    sim = line(cut)
    session = sim.call(CALLER, NUMBER)
    assert heard(sim, session) == ["Press 1."]
    cut.down()                                     # Redis is killed while the caller listens
    sim.press(session, "1")
    prompts = heard(sim, session)
    tally.add("store killed mid-call", 1, int(prompts[-1] != APOLOGY))
    assert prompts == ["Press 1.", APOLOGY]
    assert sim.get_call(session)["state"] == "ended"


def test_the_fallback_can_be_a_person(line: Any) -> None:
    cut = Relay()
    cut.down()
    sim = line(cut, HOIIVR_STORE_DOWN="transfer:+6522222222")
    session = sim.call(CALLER, NUMBER)
    heard(sim, session)
    info = sim.get_call(session)
    assert info["prompts"] == ["Please hold while we connect you."]
    assert info["transferred_to"] == "+6522222222"

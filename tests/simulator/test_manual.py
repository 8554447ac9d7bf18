"""A ``manual`` phone: it rings until a person answers or rejects it through the control API
(the web page does), or rings out as unanswered; once answered, it drives the call."""
from __future__ import annotations

from typing import Any

import pytest

from hoiivr.simulator import CallEnded, SimulatorError

from .conftest import (ANSWERS, CALLER, DIAL, GATHER, HANGUP, NUMBER, SIM_URL, TRANSFER,
                       World)

PERSON = "+6587654321"


def control(w: World, method: str, path: str, **kwargs: Any) -> Any:
    return w.rest.request(method, SIM_URL + "/sim" + path, **kwargs)


@pytest.fixture
def dialled(world: World) -> tuple[World, str]:
    """The app dials a manual phone; its answer is a menu."""
    assert control(world, "PUT", f"/phones/{PERSON}", json={"behaviour": "manual"}).json() == {
        "number": PERSON, "behaviour": "manual", "talk_seconds": 30.0}
    world.on_ongoing("dial", GATHER, msg="Press 1 to confirm", max_digits=1,
                     notify_url=world.url("menu"))
    world.on_ongoing("menu", HANGUP, msg="Confirmed")
    session = world.api(DIAL, dest=PERSON, notify_url=world.url("dial"))["session"]
    return world, session


def test_it_rings_until_answered_then_drives_the_call(dialled: tuple[World, str]) -> None:
    world, session = dialled
    world.sim.settle(session)                   # a ringing manual phone is at rest
    assert world.sim.clock.now() == 0.0
    world.sim.advance(29.0)                      # rings, and rings
    call = control(world, "GET", f"/calls/{session}").json()
    assert call["state"] == "dialing" and call["ringing_phone"] == PERSON
    [listed] = [c for c in control(world, "GET", "/calls").json()["calls"]
                if c["session"] == session]
    assert listed["ringing_phone"] == PERSON
    res = control(world, "POST", f"/calls/{session}/answer")
    assert res.status_code == 200 and res.json()["ringing_phone"] is None
    world.sim.settle(session)
    (dial,) = world.app.named("dial")
    assert dial["dial_status"] == "answered"
    control(world, "POST", f"/calls/{session}/press", json={"digits": "1"})
    world.sim.settle(session)
    call = world.sim.get_call(session)
    assert call["state"] == "ended" and call["prompts"] == ["Press 1 to confirm", "Confirmed"]
    assert call["answered_at"] == 29.0 and call["ringing_phone"] is None
    assert [e["number"] for e in call["timeline"] if e["type"] == "answered_by_hand"] == [PERSON]


def test_rejected_the_app_hears_busy(dialled: tuple[World, str]) -> None:
    world, session = dialled
    world.sim.advance(3.0)
    world.sim.reject(session)
    (ended,) = world.app.named("dial")
    assert ended["call_state"] == "ended" and ended["dial_status"] == "busy"
    assert world.sim.get_call(session)["ringing_phone"] is None


def test_unanswered_it_rings_out_after_the_usual_ring_time(dialled: tuple[World, str]) -> None:
    world, session = dialled
    world.sim.advance(world.sim.engine.timing.unanswered_after)
    (ended,) = world.app.named("dial")
    assert ended["dial_status"] == "unanswered"
    with pytest.raises(CallEnded):
        world.sim.answer(session)


def test_answering_what_does_not_ring_says_how(world: World) -> None:
    session = world.api(DIAL, dest=ANSWERS, notify_url=world.url("dial"))["session"]
    res = control(world, "POST", f"/calls/{session}/answer")
    assert res.status_code == 409 and "'manual'" in res.json()["error"]
    res = control(world, "POST", "/calls/S0/reject")
    assert res.status_code == 404
    with pytest.raises(SimulatorError, match="PUT /sim/phones"):
        world.sim.reject(session)


def test_a_transfer_to_a_manual_phone_rings_for_a_person(world: World) -> None:
    world.sim.set_phone(PERSON, "manual", talk_seconds=10)
    world.answer_with(TRANSFER, dest=PERSON, notify_url=world.url("xfer"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    call = world.sim.get_call(session)
    assert call["state"] == "transferring" and call["ringing_phone"] == PERSON
    world.sim.answer(session)
    assert world.sim.get_call(session)["transferred_to"] == PERSON
    world.sim.advance(10.0)                     # the person talks for talk_seconds
    assert world.sim.get_call(session)["end_reason"] == "the transferred party hung up"

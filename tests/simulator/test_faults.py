"""Injected faults: the model, the Python API, the control API, the command, real HTTP."""
from __future__ import annotations

import socket
import time
from typing import Any, Callable

import pytest
import requests
from click.testing import CliRunner

from hoiivr.cli import main
from hoiivr.client import HoiioClient
from hoiivr.errors import NetworkError
from hoiivr.simulator import (RealClock, Simulator, SimulatorError, SimulatorServer,
                              UnknownCall)
from hoiivr.simulator.faults import Faults
from hoiivr.testing import Phone

from .conftest import (
    ANSWERS,
    APP_ID,
    CALLER,
    DIAL,
    GATHER,
    HOLD,
    NUMBER,
    PLAY,
    RECORD,
    SIM_URL,
    TOKEN,
    TRANSFER,
    UNANSWERED,
    UNHOLD,
    Note,
    World,
)


def faults_in(w: World, session: str) -> list[dict[str, Any]]:
    return [e for e in w.sim.get_call(session)["timeline"] if e["type"] == "fault"]


def delivered(w: World, session: str) -> list[dict[str, Any]]:
    return [e for e in w.sim.get_call(session)["timeline"] if e["type"] == "notification"]


# --------------------------------------------------------------------------- the model

def test_faults_default_to_none() -> None:
    assert Faults().to_json() == {
        "duplicate": 0.0, "reorder": 0.0, "delay": 0.0, "drop_notification": 0.0,
        "rest_error": 0.0, "rest_stall": 0.0, "stall_seconds": 15.0, "rest_drop": 0.0,
        "rest_latency": 0.0, "seed": None}
    assert not Faults().on_notifications and not Faults().on_rest


def test_values_come_as_numbers_or_their_text() -> None:
    assert Faults.coerce({"duplicate": "0.5", "delay": 2, "seed": "7"}) == {
        "duplicate": 0.5, "delay": 2.0, "seed": 7}
    assert Faults.coerce({"seed": ""}) == {"seed": None}


@pytest.mark.parametrize("values,words", [
    ({"duplicate": 1.5}, "duplicate=1.5 is not a rate"),
    ({"rest_error": -0.1}, "from 0 to 1"),
    ({"delay": -1}, "delay=-1.0: give a number of seconds"),
    ({"stall_seconds": "inf"}, "finite"),
    ({"duplicate": "often"}, "must be a number"),
    ({"duplicate": True}, "must be a number"),
    ({"seed": 1.5}, "whole number"),
    ({"dupe": 0.1}, "there is no fault 'dupe'; the faults are duplicate, reorder"),
])
def test_bad_values_say_how_to_fix_them(values: dict[str, Any], words: str) -> None:
    with pytest.raises(SimulatorError, match=words.replace("(", r"\(")):
        Faults.coerce(values)


# --------------------------------------------------------------------------- the Python API

def test_global_and_per_call_faults_merge(world: World) -> None:
    sim = world.sim
    assert sim.set_faults(duplicate=0.2, delay=1)["duplicate"] == 0.2
    assert sim.set_faults(reorder=0.1) == {**Faults().to_json(), "duplicate": 0.2,
                                           "delay": 1.0, "reorder": 0.1}
    session = sim.call(CALLER, NUMBER)
    merged = sim.set_faults(session, duplicate=1.0, rest_error=0.5)
    assert (merged["duplicate"], merged["delay"], merged["rest_error"]) == (1.0, 1.0, 0.5)
    assert sim.faults()["duplicate"] == 0.2 and sim.faults()["rest_error"] == 0.0
    sim.clear_faults(session)
    assert sim.faults(session) == sim.faults()
    sim.set_faults(session, rest_drop=1.0)
    sim.clear_faults()
    assert sim.faults() == sim.faults(session) == Faults().to_json()
    with pytest.raises(UnknownCall):
        sim.set_faults("S999", duplicate=1.0)


def test_a_bad_value_changes_nothing(world: World) -> None:
    world.sim.set_faults(duplicate=0.5)
    with pytest.raises(SimulatorError):
        world.sim.set_faults(duplicate=0.1, reorder=2)
    assert world.sim.faults()["duplicate"] == 0.5


# --------------------------------------------------------------------------- notifications

def test_duplicate_delivers_the_same_signed_body_twice(world: World) -> None:
    world.sim.set_faults(duplicate=1.0)
    session = world.sim.call(CALLER, NUMBER)
    first, second = world.app.named("answer")
    assert first.body == second.body and first.headers["X-Hoiio-Signature"] == \
        second.headers["X-Hoiio-Signature"]
    (fault,) = faults_in(world, session)
    assert fault["fault"] == "duplicate" and fault["detail"].startswith("duplicated notification")
    assert fault["ivr_block"] == "answer" and fault["call_state"] == "ringing"
    assert len(delivered(world, session)) == 2
    world.sim.settle(session)                           # counted right: the call rests


def test_drop_never_delivers_and_the_wait_ends_the_call(world: World) -> None:
    world.sim.set_faults(drop_notification=1.0)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    call = world.sim.get_call(session)
    assert world.app.notes == [] and call["state"] == "ended"
    assert call["end_reason"] == "no block came within the 60 s wait"
    assert [f["call_state"] for f in faults_in(world, session)] == ["ringing", "ended"]
    assert "never delivered" in faults_in(world, session)[0]["detail"]


def test_delay_is_a_timer_on_the_virtual_clock(world: World) -> None:
    world.sim.set_faults(delay=30.0)
    world.answer_with(PLAY, msg="hi", notify_url=world.url("play"))
    began = time.monotonic()
    session = world.sim.call(CALLER, NUMBER)
    assert world.app.notes == []                        # not yet: 30 s of the call's time
    world.sim.settle(session)
    assert time.monotonic() - began < 5
    ring, play_done, ended = delivered(world, session)
    assert ring["at"] == 30.0 and play_done["at"] == 61.0
    # The play's notification came 30 s late, well inside the 60 s wait.
    assert ended["call_state"] == "ended" and ended["at"] == 31.0 + 60.0 + 30.0


def test_reorder_holds_a_notification_until_the_next_one(world: World) -> None:
    world.answer_with(GATHER, msg="menu", max_digits=1, notify_url=world.url("gather"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    world.sim.set_faults(session, reorder=1.0)
    world.sim.press(session, "1")                       # the answer is held back ...
    assert world.app.named("gather") == []
    world.sim.set_faults(session, reorder=0.0)
    world.sim.hangup(session)                           # ... and arrives after the end
    assert [n["call_state"] for n in world.app.named("gather")] == ["ended", "ongoing"]
    assert [f["fault"] for f in faults_in(world, session)] == ["reorder"]


def test_a_held_notification_is_released_after_the_window(world: World) -> None:
    world.sim.set_faults(reorder=1.0)
    world.sim.call(CALLER, NUMBER)
    assert world.app.notes == []
    world.sim.advance(5.0)
    assert len(world.app.named("answer")) == 1


def test_the_same_seed_strikes_the_same_notifications(make_world: Callable[..., World]) -> None:
    def run() -> list[str]:
        w = make_world()
        w.sim.set_faults(duplicate=0.5, drop_notification=0.3, seed=42)
        sessions = [w.sim.call(CALLER, NUMBER) for _ in range(6)]
        return [f["fault"] for s in sessions for f in faults_in(w, s)]
    first = run()
    assert first == run() and len(set(first)) == 2


def test_a_call_with_a_seed_of_its_own(make_world: Callable[..., World]) -> None:
    def run(others: bool) -> list[str]:
        w = make_world()
        w.sim.set_faults(duplicate=0.5, seed=5)         # the other calls roll other dice
        session = w.sim.call(CALLER, NUMBER)
        w.sim.set_faults(session, seed=1)
        for _ in range(8):
            w.api(PLAY, session=session, msg="hi", notify_url=w.url("p"))
            w.sim.advance(1.0)
            if others:
                w.sim.hangup(w.sim.call(CALLER, NUMBER))
        return [f["at"] for f in faults_in(w, session)]
    alone = run(False)
    assert alone == run(True) and 0 < len(alone) < 8


def test_notification_faults_on_the_real_clock(make_world: Callable[..., World]) -> None:
    w = make_world("real", wait=0.3)
    w.sim.set_faults(duplicate=1.0, delay=0.1)
    began = time.monotonic()
    session = w.sim.call(CALLER, NUMBER)
    w.sim.settle(session, limit=10)                     # the duplicates are waited for too
    assert time.monotonic() - began >= 0.1
    assert [n["call_state"] for n in w.app.named("answer")] == ["ringing"] * 2 + ["ended"] * 2
    assert [f["fault"] for f in faults_in(w, session)] == ["duplicate", "delay"] * 2


# --------------------------------------------------------------------------- the app is down

def test_notifications_to_a_dead_app_are_visible_and_the_wait_ends_the_call(
        make_world: Callable[..., World]) -> None:
    w = make_world("real", wait=0.3)
    with socket.socket() as sock:                       # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hoiio/answer"
    w.sim.add_number("+6560000009", dead)
    session = w.sim.call(CALLER, "+6560000009")
    w.sim.settle(session, limit=10)
    call = w.sim.get_call(session)
    assert call["state"] == "ended" and call["end_reason"] == "no block came within the 0.3 s wait"
    ring, ended = [e for e in call["timeline"] if e["type"] == "notification"]
    for entry in (ring, ended):
        assert entry["delivered"] is False and entry["reply_status"] is None
        assert "ConnectionError" in entry["error"]
    assert ended["call_state"] == "ended"


# --------------------------------------------------------------------------- REST replies

def test_rest_error_is_not_carried_out(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)
    world.sim.set_faults(session, rest_error=1.0)
    reply = world.api(PLAY, session=session, msg="hello", notify_url=world.url("play"))
    assert reply == {"status": "error_internal_server_error"}
    call = world.sim.get_call(session)
    assert call["state"] == "ringing" and call["prompts"] == []
    (fault,) = faults_in(world, session)
    assert fault["fault"] == "rest_error" and fault["endpoint"] == PLAY
    assert fault["detail"].startswith("REST reply failed (injected)")
    world.sim.clear_faults(session)
    assert world.api(PLAY, session=session, msg="hello")["status"] == "success_ok"


def test_rest_error_without_a_call(world: World) -> None:
    world.sim.set_faults(rest_error=1.0)
    assert world.api("user/get_balance")["status"] == "error_internal_server_error"
    assert world.api(DIAL, dest=ANSWERS)["status"] == "error_internal_server_error"
    assert world.sim.calls() == []
    # Unknown paths and the control API are not Hoiio's REST API: no faults there.
    assert world.rest.post(SIM_URL + "/open/nope").status_code == 404
    assert world.rest.get(SIM_URL + "/sim/faults").json()["rest_error"] == 1.0


def test_rest_drop_in_process_raises_connection_error_after_carrying_it_out(
        world: World) -> None:
    world.sim.set_faults(rest_drop=1.0)
    with pytest.raises(requests.ConnectionError, match="rest_drop"):
        world.api(DIAL, dest=UNANSWERED, notify_url=world.url("dial"))
    (call,) = world.sim.calls()
    assert call["state"] == "dialing"                   # Hoiio did it; the reply was lost
    (fault,) = faults_in(world, call["session"])
    assert fault["fault"] == "rest_drop" and fault["endpoint"] == DIAL


def test_latency_and_stall_do_not_apply_on_the_virtual_clock(world: World) -> None:
    world.sim.set_faults(rest_latency=30.0, rest_stall=1.0, stall_seconds=30.0)
    began = time.monotonic()
    assert world.api("user/get_balance")["status"] == "success_ok"
    assert time.monotonic() - began < 5


@pytest.fixture
def served() -> Any:
    """A real-clock simulator on port 0 and a real HoiioClient with a short timeout."""
    sim = Simulator(clock=RealClock())
    sim.add_account(APP_ID, TOKEN)
    sim.add_number(NUMBER, None)
    server = SimulatorServer(sim, port=0)
    server.start()
    client = HoiioClient(APP_ID, TOKEN, base_url=server.url + "/open/", timeout=(2.0, 0.5))
    yield sim, client
    client.close()
    server.stop()
    sim.close()


def test_a_dropped_connection_is_a_network_error_that_was_sent(served: Any) -> None:
    sim, client = served
    sim.set_faults(rest_drop=1.0)
    with pytest.raises(NetworkError) as caught:
        client.dial(UNANSWERED)
    assert caught.value.sent is True and "connection to Hoiio broke" in str(caught.value)
    (call,) = sim.calls()
    assert call["state"] == "dialing"
    assert [f["fault"] for f in sim.get_call(call["session"])["timeline"]
            if f["type"] == "fault"] == ["rest_drop"]
    sim.clear_faults()
    assert client.get_balance().status == "success_ok"  # the server serves on


def test_a_stalled_reply_times_out_and_was_sent(served: Any) -> None:
    sim, client = served
    session = sim.call(CALLER, NUMBER)
    sim.set_faults(session, rest_stall=1.0, stall_seconds=6.0)
    began = time.monotonic()
    with pytest.raises(NetworkError) as caught:
        client.play(session, "hello", notify_url="http://app.test/play")
    assert caught.value.sent is True and "did not answer" in str(caught.value)
    assert time.monotonic() - began < 5.0           # the client's timeout, not the stall
    info = sim.get_call(session)
    assert info["state"] == "playing" and info["prompts"] == ["hello"]
    assert [e["fault"] for e in info["timeline"] if e["type"] == "fault"] == ["rest_stall"]


def test_latency_is_added_to_every_reply(served: Any) -> None:
    sim, client = served
    sim.set_faults(rest_latency=0.2)
    began = time.monotonic()
    assert client.get_balance().status == "success_ok"
    assert client.get_balance().status == "success_ok"
    assert time.monotonic() - began >= 0.4


def test_closing_releases_a_stalled_reply() -> None:
    sim = Simulator(clock=RealClock())
    sim.add_account(APP_ID, TOKEN)
    server = SimulatorServer(sim, port=0)
    server.start()
    sim.set_faults(rest_stall=1.0, stall_seconds=60.0)
    client = HoiioClient(APP_ID, TOKEN, base_url=server.url + "/open/", timeout=(2.0, 0.2))
    with pytest.raises(NetworkError):
        client.get_balance()
    began = time.monotonic()
    sim.close()                                          # the stalled thread lets go
    server.stop()
    client.close()
    assert time.monotonic() - began < 5


# --------------------------------------------------------------------------- the control API

def control(w: World, method: str, path: str, **kwargs: Any) -> requests.Response:
    return w.rest.request(method, SIM_URL + "/sim" + path, **kwargs)


def test_the_control_api(world: World) -> None:
    res = control(world, "PUT", "/faults", json={"duplicate": 0.1, "rest_latency": 0.15})
    assert res.status_code == 200 and res.json()["duplicate"] == 0.1
    res = control(world, "PUT", "/faults", data={"delay": "2", "seed": "9"})
    assert res.json()["delay"] == 2.0 and res.json()["seed"] == 9
    assert control(world, "GET", "/faults").json()["rest_latency"] == 0.15
    session = world.sim.call(CALLER, NUMBER)
    res = control(world, "PUT", f"/calls/{session}/faults", json={"rest_error": 1})
    assert res.json()["rest_error"] == 1.0 and res.json()["duplicate"] == 0.1
    assert control(world, "GET", f"/calls/{session}/faults").json()["rest_error"] == 1.0
    assert control(world, "DELETE", f"/calls/{session}/faults").json()["rest_error"] == 0.0
    assert control(world, "DELETE", "/faults").json() == Faults().to_json()
    assert "PUT /sim/faults" in control(world, "GET", "").json()["routes"]


@pytest.mark.parametrize("path,body,status,words", [
    ("/faults", {"duplicate": 2}, 400, "not a rate"),
    ("/faults", {"often": 1}, 400, "there is no fault 'often'"),
    ("/faults", {"delay": "soon"}, 400, "must be a number"),
    ("/faults", {"session": "S1"}, 400, "PUT /sim/calls/<session>/faults"),
    ("/calls/S999/faults", {"duplicate": 1}, 404, "there is no call 'S999'"),
])
def test_control_api_errors(world: World, path: str, body: dict[str, Any], status: int,
                            words: str) -> None:
    res = control(world, "PUT", path, json=body)
    assert res.status_code == status and words in res.json()["error"]


# --------------------------------------------------------------------------- the command

def test_the_command_takes_faults(monkeypatch: Any) -> None:
    seen: dict[str, Any] = {}

    def serve(self: SimulatorServer) -> None:
        with requests.Session() as http:
            self.start()
            seen["faults"] = http.get(self.url + "/sim/faults").json()
        self.stop()                     # as Ctrl-C would

    monkeypatch.setattr(SimulatorServer, "serve_forever", serve)
    result = CliRunner().invoke(main, ["simulator", "--port", "0", "--fault",
                                       "rest_latency=0.15", "--fault", "duplicate=0.1",
                                       "--fault", "seed=3"])
    assert result.exit_code == 0, result.output
    assert seen["faults"]["rest_latency"] == 0.15 and seen["faults"]["duplicate"] == 0.1
    assert "Injected faults: duplicate=0.1 rest_latency=0.15 seed=3" in result.output


@pytest.mark.parametrize("spec,words", [("duplicate", "NAME=VALUE"),
                                        ("duplicate=2", "not a rate"),
                                        ("nope=1", "there is no fault 'nope'")])
def test_the_command_refuses_bad_faults(spec: str, words: str) -> None:
    result = CliRunner().invoke(main, ["simulator", "--port", "0", "--fault", spec])
    assert result.exit_code == 2 and words in result.output and "--fault" in result.output
    assert "Traceback" not in result.output


def test_the_command_help_lists_the_faults() -> None:
    result = CliRunner().invoke(main, ["simulator", "--help"])
    assert "--fault NAME=VALUE" in result.output and "rest_latency" in result.output


# --------------------------------------------------------------------------- hanging up

def _ringing(w: World) -> str:
    return w.sim.call(CALLER, NUMBER)


def _answered(endpoint: str, after: float = 0.0, **params: Any) -> Callable[[World], str]:
    """Answer with ``endpoint``, then let ``after`` seconds pass; notify URLs are named."""
    def setup(w: World) -> str:
        named = {k: w.url(v) if k == "notify_url" else v for k, v in params.items()}
        w.answer_with(endpoint, **named)
        session = w.sim.call(CALLER, NUMBER)
        w.sim.advance(after)
        return session
    return setup


def _waiting(w: World) -> str:
    w.answer_with(PLAY, msg="hi", notify_url=w.url("play"))
    session = w.sim.call(CALLER, NUMBER)
    w.sim.advance(1.0)
    return session


def _resuming(w: World) -> str:
    def answer(note: Note) -> None:
        w.reply(note, HOLD)
        w.reply(note, UNHOLD, notify_url=w.url("unhold"))
        assert w.sim.get_call(note["session"])["state"] == "resuming"
        w.sim.hangup(note["session"])
    w.app.on("answer", answer)
    return w.sim.call(CALLER, NUMBER)


def _dialing(w: World) -> str:
    return w.api(DIAL, dest=UNANSWERED, notify_url=w.url("dial"))["session"]


STATES: dict[str, Callable[[World], str]] = {
    "ringing": _ringing,
    "dialing": _dialing,
    "playing": _answered(PLAY, msg="a long message to hear", notify_url="p"),
    "collecting": _answered(GATHER, 1.0, msg="menu", notify_url="g"),
    "recording": _answered(RECORD, 1.0, msg="tone", notify_url="r"),
    "on_hold": _answered(HOLD, msg="please hold"),
    "transferring": _answered(TRANSFER, dest=UNANSWERED, notify_url="x"),
    "talking": _answered(TRANSFER, 5.0, dest=ANSWERS, notify_url="x"),
    "waiting": _waiting,
}


@pytest.mark.parametrize("state", [*STATES, "resuming"])
def test_the_caller_can_hang_up_in_every_state(world: World, state: str) -> None:
    if state == "resuming":                             # hung up from inside the handler
        session = _resuming(world)
    else:
        session = STATES[state](world)
        assert world.sim.get_call(session)["state"] == state
        world.sim.hangup(session)
    world.sim.settle(session)
    call = world.sim.get_call(session)
    assert call["state"] == "ended" and call["billing"] is not None
    assert call["end_reason"] in ("the caller hung up", "the dialled phone rejected the call")
    assert [e["type"] for e in call["timeline"]].count("caller_hangup") == 1
    (ended,) = [e for e in call["timeline"] if e["type"] == "notification"
                and e["call_state"] == "ended"]
    assert ended["delivered"] is True
    assert world.sim.engine.sessions[session].timers == {}
    world.sim.advance(3600.0)                           # nothing else ever happens
    assert world.sim.get_call(session)["timeline"] == call["timeline"]


# --------------------------------------------------------------------------- Phone

def test_phone_faults_with_the_design_app() -> None:
    from e2e.design_app import create_app
    app = create_app()
    with Phone(app) as phone:
        phone.set_faults(duplicate=1.0, delay=0.5)
        call = phone.call()
        assert call.prompts == ["Press 1 for sales, 2 for support."]
        call.set_faults(reorder=1.0)
        call.press("2")
        call.wait(61)
        assert call.call_state == "ended"
        assert len(app.ended) == 1                      # duplicates changed nothing
        kinds = {e["fault"] for e in call.info["timeline"] if e["type"] == "fault"}
        assert kinds == {"duplicate", "delay", "reorder"}
        assert "fault=duplicate" in call.describe()
        phone.clear_faults()
        assert phone.sim.faults(call.session) == Faults().to_json()

"""The control API under ``/sim/``: JSON or form bodies, clear 4xx errors."""
from __future__ import annotations

import io
import json
import wave
from typing import Any

import pytest

from .conftest import (ANSWERS, APP_ID, CALLER, GATHER, HANGUP, NUMBER, RECORD, SIM_URL,
                       TOKEN, TRANSFER, World)


def sim(w: World, method: str, path: str, **kwargs: Any) -> Any:
    return w.rest.request(method, SIM_URL + "/sim" + path, **kwargs)


def test_index(world: World) -> None:
    index = sim(world, "GET", "").json()
    assert index["clock"] == "virtual" and index["api"] == SIM_URL + "/open/"
    assert any("/sim/calls" in route for route in index["routes"])


def test_setup_through_the_control_api(world: World) -> None:
    res = sim(world, "POST", "/accounts", json={"app_id": "NEW", "access_token": "new-token",
                                                "balance": "5", "rate": "0.05"})
    assert res.status_code == 201 and res.json()["balance"] == "5.000"
    res = sim(world, "POST", "/numbers", data={"number": "+6567000000",
                                               "forward_to": world.url("new"), "app_id": "NEW"})
    assert res.status_code == 201 and res.json()["app_id"] == "NEW"
    numbers = sim(world, "GET", "/numbers").json()["numbers"]
    assert {n["number"] for n in numbers} == {NUMBER, "+6567000000"}
    res = sim(world, "PUT", f"/phones/{ANSWERS}", data={"behaviour": "busy"})
    assert res.json() == {"number": ANSWERS, "behaviour": "busy", "talk_seconds": 30.0}
    assert sim(world, "GET", "/phones").json()["phones"][ANSWERS]["behaviour"] == "busy"
    assert {a["app_id"] for a in sim(world, "GET", "/accounts").json()["accounts"]} == {
        "APP1", "NEW"}


def test_a_call_through_the_control_api(world: World) -> None:
    world.answer_with(GATHER, msg="menu", max_digits=1, notify_url=world.url("gather"))
    world.on_ongoing("gather", TRANSFER, dest=ANSWERS, notify_url=world.url("xfer"))
    res = sim(world, "POST", "/calls", json={"from": CALLER, "to": NUMBER})
    assert res.status_code == 201
    session = res.json()["session"]
    assert sim(world, "POST", "/settle", data={"session": session}).json()["now"] == 1.0
    assert sim(world, "GET", f"/calls/{session}").json()["state"] == "collecting"
    assert sim(world, "POST", f"/calls/{session}/press", data={"digits": "1"}).json()[
        "block"] == "transfer"
    sim(world, "POST", "/settle", json={"session": session})
    assert sim(world, "GET", f"/calls/{session}").json()["state"] == "talking"
    assert sim(world, "POST", f"/calls/{session}/hangup").json()["state"] == "ended"
    call = sim(world, "GET", f"/calls/{session}").json()
    assert call["from"] == CALLER and call["to"] == NUMBER and call["prompts"] == ["menu"]
    assert call["transferred_to"] == ANSWERS and call["billing"]["duration"] == "1"
    assert sim(world, "GET", "/calls").json()["calls"][0]["session"] == session


def test_a_call_as_a_trace(world: World) -> None:
    world.answer_with(GATHER, msg=f"menu for {CALLER}", max_digits=1,
                      notify_url=world.url("gather"))
    world.on_ongoing("gather", TRANSFER, dest=ANSWERS, notify_url=world.url("xfer"))
    session = sim(world, "POST", "/calls", json={"from": CALLER, "to": NUMBER}).json()["session"]
    sim(world, "POST", "/settle", data={"session": session})
    sim(world, "POST", f"/calls/{session}/press", data={"digits": "1"})
    res = sim(world, "GET", f"/calls/{session}/trace")
    assert res.status_code == 200 and res.headers["Content-Type"] == "application/jsonl"
    assert res.headers["Content-Disposition"] == f'attachment; filename="{session}.jsonl"'
    lines = [json.loads(line) for line in res.text.splitlines()]
    assert lines[0]["recorded_by"] == "simulator" and lines[0]["steps"] is False
    assert lines[0]["from"] == "+65912*****" and CALLER not in res.text
    assert [(e["type"], e.get("kind")) for e in lines[1:]] == [
        ("block", "gather"), ("prompt", "gather"), ("press", None), ("block", "transfer"),
        ("dest_phone", None)]
    assert lines[1]["params"] == {"msg": "menu for +65912*****", "max_digits": "1"}
    assert "notify_url" not in res.text and "access_token" not in res.text
    unmasked = sim(world, "GET", f"/calls/{session}/trace?unmask=1").text
    assert f'"from": "{CALLER}"' in unmasked


def test_advance_and_speak_with_an_upload(world: World) -> None:
    world.answer_with(RECORD, notify_url=world.url("record"))
    session = sim(world, "POST", "/calls", data={"from": CALLER, "to": NUMBER}).json()["session"]
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000)
        wav.writeframes(bytes(16000))
    res = sim(world, "POST", f"/calls/{session}/speak",
              files={"audio": ("hello.wav", out.getvalue(), "audio/wav")})
    assert res.status_code == 200
    assert sim(world, "POST", "/advance", json={"seconds": 2}).json()["now"] == 2.0
    sim(world, "POST", f"/calls/{session}/press", data={"digits": "#"})
    (note,) = world.app.named("record", "ongoing")
    assert world.rest.get(note["record_url"]).content == out.getvalue()


@pytest.mark.parametrize("method,path,body,status,words", [
    ("POST", "/calls", {"from": CALLER}, 400, "'to' is missing"),
    ("POST", "/calls", {"from": "12", "to": NUMBER}, 400, "E.164"),
    ("POST", "/calls", {"from": CALLER, "to": "+6569999999"}, 400, "not a Hoiio Number"),
    ("POST", "/calls/S999/press", {"digits": "1"}, 404, "GET /sim/calls"),
    ("GET", "/calls/S999", None, 404, "no call"),
    ("PUT", f"/phones/{ANSWERS}", {"behaviour": "explode"}, 400, "answer, busy"),
    ("PUT", f"/phones/{ANSWERS}", {"behaviour": "answer", "talk_seconds": "x"}, 400, "number"),
    ("PUT", "/phones/12345", {"behaviour": "busy"}, 400, "E.164"),
    ("POST", "/numbers", {"number": "+6561234567", "forward_to": "nope"}, 400, "http(s)"),
    ("POST", "/numbers", {"number": "+6561234567", "app_id": "X"}, 400, "no account"),
    ("POST", "/accounts", {"app_id": "A"}, 400, "access_token"),
    ("POST", "/accounts", {"app_id": "A", "access_token": "t", "balance": "lots"}, 400,
     "amount"),
    ("POST", "/advance", {"seconds": "1e300"}, 400, "past the year 9999"),
    ("POST", "/settle", {"limit": "1e300"}, 400, "a year"),
    ("POST", "/accounts", {"kind": "twilio", "rest_concurrency": "\u00b2"}, 400,
     "whole number"),
    ("GET", "/nope", None, 404, "not found"),
    ("DELETE", "/calls", None, 405, "not allowed"),
])
def test_errors_say_how_to_fix_them(world: World, method: str, path: str,
                                    body: dict[str, str] | None, status: int,
                                    words: str) -> None:
    res = sim(world, method, path, data=body)
    assert res.status_code == status, res.text
    assert words.lower() in res.json()["error"].lower()


@pytest.mark.parametrize("body", [
    {"app_id": 5, "access_token": "t"},
    {"app_id": "A", "access_token": 5},
    {"kind": "twilio", "account_sid": 5},
    {"kind": "twilio", "auth_token": 5},
])
def test_an_account_of_ill_typed_json_is_refused_and_not_kept(world: World,
                                                             body: dict[str, Any]) -> None:
    before = sim(world, "GET", "/accounts").json()
    res = sim(world, "POST", "/accounts", json=body)
    assert res.status_code == 400 and "simulator failed" not in res.json()["error"], res.text
    assert sim(world, "GET", "/accounts").json() == before


def test_a_bad_advance_changes_nothing(world: World) -> None:
    world.answer_with(GATHER, msg="menu", max_digits=1, notify_url=world.url("gather"))
    session = world.sim.call(CALLER, NUMBER)
    now = world.sim.clock.now()
    assert sim(world, "POST", "/advance", json={"seconds": 1e300}).status_code == 400
    assert world.sim.clock.now() == now
    sim(world, "POST", "/settle", json={"session": session})
    assert world.api(HANGUP, session=session, msg="still here")["status"] == "success_ok"


def test_an_account_added_again_keeps_its_live_calls(world: World) -> None:
    world.answer_with(GATHER, msg="menu", max_digits=1, notify_url=world.url("gather"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    res = sim(world, "POST", "/accounts", json={"app_id": APP_ID, "access_token": TOKEN,
                                                "balance": "50"})
    assert res.status_code == 201
    assert world.api(HANGUP, session=session, msg="still mine")["status"] == "success_ok"
    world.sim.settle(session)
    (account,) = sim(world, "GET", "/accounts").json()["accounts"]
    assert account["balance"] == "49.980"           # the live call billed to the account


def test_caller_actions_on_a_live_call_are_checked(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)
    for digits in ("", "12a"):
        res = sim(world, "POST", f"/calls/{session}/press", data={"digits": digits})
        assert res.status_code == 400
    for seconds in ("forever", "-1", "0", "nan", "99999"):
        res = sim(world, "POST", f"/calls/{session}/speak", data={"seconds": seconds})
        assert res.status_code == 400, seconds
    sim(world, "POST", f"/calls/{session}/hangup")
    res = sim(world, "POST", f"/calls/{session}/press", json={"digits": "1"})
    assert res.status_code == 409 and "has ended" in res.json()["error"]
    res = sim(world, "POST", f"/calls/{session}/press", json=["1"])
    assert res.status_code == 400 and "object" in res.json()["error"]
    assert sim(world, "POST", f"/calls/{session}/hangup").status_code == 200


def test_advance_needs_a_virtual_clock(make_world: Any) -> None:
    w = make_world("real")
    res = w.rest.post(w.base + "/sim/advance", data={"seconds": "1"})
    assert res.status_code == 400 and "VirtualClock" in res.json()["error"]

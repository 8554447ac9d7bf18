"""Bad requests get the protocol's error or a 4xx, never a 500, and never touch another call.

A *witness* call waits in a Gather (timeout 3600 s) while each bad request is sent over
real HTTP; its JSON (state, prompts, timeline...) must be the same afterwards.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
import requests

from .conftest import APP_ID, CALLER, NUMBER, OTHER_APP_ID, OTHER_TOKEN, TOKEN, Harness

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MB = 1024 * 1024


@pytest.fixture
def witness(make_harness: Callable[..., Harness]) -> Iterator[tuple[Harness, str]]:
    h = make_harness("real", wait=60.0)
    h.on("answer", lambda n: h.reply(n, "ivr/middle/gather", msg="Hi.", timeout="3600",
                                     notify_url=h.url("gather")))
    session = h.call()
    h.waiting_for_caller(session)
    yield h, session


def refused(res: requests.Response) -> str:
    """The request was refused cleanly; returns the protocol status ("" for a bare 4xx)."""
    assert res.status_code != 500 and res.status_code < 500, (res.status_code, res.text[:300])
    if res.status_code == 200:
        status = res.json()["status"]
        assert status.startswith("error_"), res.text
        return status
    assert 400 <= res.status_code < 500, res.status_code
    return ""


def snapshot(h: Harness, session: str) -> dict[str, Any]:
    return h.get_call(session)


def body(**params: str) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


AUTH = f"app_id={APP_ID}&access_token={TOKEN}"

BAD_BODIES: list[tuple[str, bytes | str]] = [
    ("bad percent-encoding", AUTH + "&session=S1&msg=%ZZ%"),
    ("truncated escape", AUTH + "&session=S1&msg=abc%2"),
    ("invalid utf-8 escaped", AUTH + "&session=S1&msg=%FF%FE%80"),
    ("invalid utf-8 raw", AUTH.encode() + b"&session=S1&msg=\xff\xfe\x80"),
    ("nul bytes", AUTH + "&session=S1%00&msg=a%00b"),
    ("no equals", "garbage-without-structure"),
    ("only separators", "&&&=&=="),
    ("json", '{"app_id": "AID1001"}'),
    ("huge msg 1 MB", AUTH + "&session=S1&msg=" + "m" * MB),
    ("huge key 1 MB", AUTH + "&" + "k" * MB + "=v"),
    ("1 MB of params", AUTH + "&" + "&".join(f"p{i}=v" for i in range(100000))),
]


@pytest.mark.parametrize("name,payload", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
@pytest.mark.parametrize("path", ["/open/ivr/middle/play", "/open/ivr/start/dial",
                                  "/open/user/get_balance"])
def test_malformed_bodies(witness: tuple[Harness, str], path: str, name: str,
                          payload: bytes | str) -> None:
    h, session = witness
    before = snapshot(h, session)
    res = h.raw("POST", path, data=payload, headers=FORM)
    if path == "/open/user/get_balance":       # may succeed: its credentials can be valid
        assert res.status_code < 500, res.text[:300]
        if res.status_code == 200:
            assert res.json()["status"]
    else:
        refused(res)
    assert snapshot(h, session) == before


def test_invalid_utf8_is_malformed(witness: tuple[Harness, str]) -> None:
    h, session = witness
    res = h.raw("POST", "/open/ivr/middle/play",
                data=AUTH.encode() + f"&session={session}&msg=%FF%FE".encode(), headers=FORM)
    assert refused(res) in {"error_malformed_params", ""}
    res = h.raw("POST", "/open/ivr/middle/play",
                data=AUTH + f"&session={session}&msg=%ZZ", headers=FORM)
    assert refused(res) in {"error_malformed_params", ""}


def test_huge_query_string(witness: tuple[Harness, str]) -> None:
    h, session = witness
    before = snapshot(h, session)
    try:
        res = h.raw("GET", "/open/ivr/middle/play?" + AUTH + "&msg=" + "m" * (64 * 1024))
    except requests.ConnectionError:
        pass                                  # the server may close on an oversized line
    else:
        refused(res)
    assert snapshot(h, session) == before


@pytest.mark.parametrize("method,path", [
    ("GET", "/open/ivr/middle/nope"), ("POST", "/open/ivr/middle/nope"),
    ("POST", "/open/"), ("GET", "/open"), ("GET", "/nothing/here"),
    ("POST", "/open/ivr/middle/play/extra"), ("GET", "/open/ivr"),
    ("POST", "/sim/calls/S999999999/press"), ("GET", "/sim/calls/S999999999"),
    ("POST", "/sim/calls/S999999999/hangup"), ("GET", "/sim/unknown"),
])
def test_unknown_paths(witness: tuple[Harness, str], method: str, path: str) -> None:
    h, session = witness
    before = snapshot(h, session)
    res = h.raw(method, path, data={"app_id": APP_ID, "access_token": TOKEN, "digits": "1"})
    assert 400 <= res.status_code < 500, (res.status_code, res.text[:200])
    if path.startswith("/open/ivr"):
        assert res.status_code == 404
    assert snapshot(h, session) == before


def test_unknown_open_path_is_404(witness: tuple[Harness, str]) -> None:
    h, _ = witness
    assert h.raw("POST", "/open/ivr/middle/nope", data={"app_id": APP_ID}).status_code == 404


@pytest.mark.parametrize("params,status", [
    ({"app_id": APP_ID, "access_token": "wrong"}, "error_invalid_access_token"),
    ({"app_id": APP_ID, "access_token": OTHER_TOKEN}, "error_invalid_access_token"),
    ({"app_id": "AID-nope", "access_token": TOKEN}, "error_invalid_app_id"),
    ({"app_id": OTHER_APP_ID, "access_token": OTHER_TOKEN}, "error_session_access_denied"),
    ({"access_token": TOKEN}, "error_app_id_param_missing"),
    ({"app_id": APP_ID}, "error_access_token_param_missing"),
])
@pytest.mark.parametrize("endpoint", ["ivr/middle/play", "ivr/end/hangup",
                                      "ivr/end/transfer", "ivr/middle/hold"])
def test_wrong_credentials_never_touch_the_call(witness: tuple[Harness, str], endpoint: str,
                                                params: dict[str, str], status: str) -> None:
    h, session = witness
    before = snapshot(h, session)
    reply = h.api(endpoint, auth=False, session=session, dest="+6581000001",
                  notify_url=h.url("x"), force="enabled", **params)
    assert reply == {"status": status}
    after = snapshot(h, session)
    for key in ("state", "prompts", "transferred_to", "recordings", "billing"):
        assert after[key] == before[key], key
    assert not h.notes("x")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_methods(witness: tuple[Harness, str], method: str) -> None:
    h, session = witness
    before = snapshot(h, session)
    res = h.raw(method, "/open/ivr/end/hangup",
                data={"app_id": APP_ID, "access_token": TOKEN, "session": session,
                      "force": "enabled"})
    status = refused(res)
    if res.status_code == 200:
        assert status == "error_invalid_http_method"
    assert snapshot(h, session)["state"] == before["state"]
    assert snapshot(h, session) == before


@pytest.mark.parametrize("data", [
    {"from": "not-a-number", "to": NUMBER}, {"from": CALLER, "to": "+6560000000"},
    {"from": CALLER}, {},
])
def test_bad_control_requests(witness: tuple[Harness, str], data: dict[str, str]) -> None:
    h, session = witness
    before = snapshot(h, session)
    res = h.raw("POST", "/sim/calls", data=data)
    assert 400 <= res.status_code < 500, (res.status_code, res.text[:200])
    res = h.raw("POST", f"/sim/calls/{session}/speak", data={"seconds": "forever"})
    assert 400 <= res.status_code < 500, (res.status_code, res.text[:200])
    res = h.raw("PUT", "/sim/phones/+6581000001", data={"behaviour": "explode"})
    assert 400 <= res.status_code < 500, (res.status_code, res.text[:200])
    assert snapshot(h, session) == before


def test_witness_still_works_afterwards(witness: tuple[Harness, str]) -> None:
    h, session = witness
    for payload, _ in [(p, n) for n, p in BAD_BODIES[:5]]:
        h.raw("POST", "/open/ivr/middle/play", data=payload, headers=FORM)
    h.on("gather", lambda n: h.reply(n, "ivr/end/hangup", notify_url=h.url("bye")))
    h.press(session, "5#")
    ended = h.ended(session)
    assert h.notes("gather", session)[0]["digits"] == "5"
    assert ended.name == "bye"

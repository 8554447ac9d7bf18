"""The ``/open`` REST API: validation order, parsing, every endpoint, never a 500."""
from __future__ import annotations

import random
from typing import Any

import pytest

from hoiivr.simulator.rest import Malformed, parse_form

from .conftest import (ANSWERS, APP_ID, CALLER, DIAL, GATHER, HANGUP, MONITOR, NUMBER, PLAY,
                       SIM_URL, TOKEN, TRANSFER, UNHOLD, World)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
AUTH = f"app_id={APP_ID}&access_token={TOKEN}"


def post(w: World, path: str, body: bytes | str, headers: dict[str, str] | None = None) -> Any:
    return w.rest.post(SIM_URL + path, data=body, headers=headers or FORM)


def all_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(all_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(all_strings(v) for v in value)
    return isinstance(value, str)


# --------------------------------------------------------------------------- parsing

def test_parse_form_is_strict() -> None:
    assert parse_form(b"a=1&b=&c&d=%2B65+1&&e=%E2%82%AC") == [
        ("a", "1"), ("b", ""), ("c", ""), ("d", "+65 1"), ("e", "€")]
    for bad in (b"a=%ZZ", b"a=%2", b"a=%FF%FE", b"a=\xff"):
        with pytest.raises(Malformed):
            parse_form(bad)


@pytest.mark.parametrize("body", [AUTH + "&msg=%ZZ", AUTH + "&msg=abc%2",
                                  AUTH.encode() + b"&msg=\xff\xfe", AUTH + "&msg=%C3%28"])
def test_malformed_bodies(world: World, body: bytes | str) -> None:
    res = post(world, "/open/ivr/middle/play", body)
    assert res.status_code == 200 and res.json() == {"status": "error_malformed_params"}


def test_other_content_types_are_malformed_but_multipart_is_read(world: World) -> None:
    res = post(world, "/open/user/get_balance", '{"app_id": "APP1"}',
               {"Content-Type": "application/json"})
    assert res.json() == {"status": "error_malformed_params"}
    res = world.rest.post(SIM_URL + "/open/user/get_balance",
                          files={"app_id": (None, APP_ID), "access_token": (None, TOKEN)})
    assert res.json()["status"] == "success_ok"
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=xx"):
        res = post(world, "/open/user/get_balance", "not a multipart body",
                   {"Content-Type": content_type})
        assert res.json() == {"status": "error_malformed_params"}, content_type


def test_oversized_bodies_are_malformed_params_with_http_200(world: World) -> None:
    """Protocol §1: every reply is HTTP 200 with a status, an error too."""
    res = post(world, "/open/ivr/middle/play", AUTH + "&msg=" + "m" * 70000)
    assert res.status_code == 200 and res.json() == {"status": "error_malformed_params"}
    res = world.rest.get(SIM_URL + "/open/user/get_balance?" + AUTH + "&x=" + "y" * 70000)
    assert res.status_code == 200 and res.json() == {"status": "error_malformed_params"}


def test_query_string_and_body_are_merged_query_first(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)
    res = post(world, f"/open/{PLAY}?app_id={APP_ID}&session={session}&msg=first",
               f"access_token={TOKEN}&msg=second&session=S0")
    assert res.json() == {"status": "success_ok"}
    assert world.sim.get_call(session)["prompts"] == ["first"]


def test_get_and_post_are_the_same_and_other_methods_are_refused(world: World) -> None:
    params = {"app_id": APP_ID, "access_token": TOKEN}
    assert world.rest.get(SIM_URL + "/open/user/get_balance", params=params).json()[
        "status"] == "success_ok"
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        res = world.rest.request(method, SIM_URL + "/open/user/get_balance", data=params)
        assert res.status_code == 200 and res.json() == {"status": "error_invalid_http_method"}


@pytest.mark.parametrize("path", ["/open/ivr/middle/nope", "/open/", "/open",
                                  "/open/ivr/middle/play/", "/nothing"])
def test_unknown_paths_are_404(world: World, path: str) -> None:
    assert world.rest.post(SIM_URL + path, data={"app_id": APP_ID}).status_code == 404


def test_random_bytes_never_make_a_500(world: World) -> None:
    rng = random.Random(7)
    alphabet = b"%&=+abcAPP1token-S10\xff\x00\xc3 "
    for _ in range(300):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        res = post(world, rng.choice(["/open/ivr/middle/play", "/open/ivr/start/dial",
                                      "/open/user/get_balance"]), body)
        assert res.status_code == 200, (body, res.text)
        assert res.json()["status"].startswith(("error_", "success_"))


def test_an_internal_failure_answers_like_hoiio(world: World, monkeypatch: Any) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")
    monkeypatch.setattr(world.sim.engine, "submit", broken)
    assert world.api(PLAY, session="S1") == {"status": "error_internal_server_error"}


# --------------------------------------------------------------------------- validation order

def test_validation_order(world: World) -> None:
    assert world.api(PLAY, auth=False, access_token=TOKEN, tag="t" * 300) == {
        "status": "error_app_id_param_missing"}
    assert world.api(PLAY, auth=False, app_id="nope") == {
        "status": "error_access_token_param_missing"}
    assert world.api(GATHER, auth=False, app_id="nope", access_token=TOKEN) == {
        "status": "error_invalid_app_id"}
    assert world.api(GATHER, auth=False, app_id=APP_ID, access_token="wrong") == {
        "status": "error_invalid_access_token"}
    assert world.api(GATHER, auth=False, app_id=APP_ID, access_token="é") == {
        "status": "error_invalid_access_token"}
    assert world.api(GATHER, session="S1", timeout=0) == {
        "status": "error_notify_url_param_missing"}
    assert world.api(GATHER, session="S1", notify_url=world.url("g"), timeout=0) == {
        "status": "error_invalid_timeout"}
    assert world.api(PLAY, session="S1", notify_url="ftp://x/y") == {
        "status": "error_invalid_notify_url"}
    assert world.api(PLAY, session="S999") == {"status": "error_invalid_session"}
    assert world.api(TRANSFER, session=world.sim.call(CALLER, NUMBER)) == {
        "status": "error_dest_param_missing"}


def test_empty_values_count_as_missing(world: World) -> None:
    assert world.api(PLAY, session="") == {"status": "error_session_param_missing"}
    assert world.api(PLAY, auth=False, app_id="", access_token=TOKEN) == {
        "status": "error_app_id_param_missing"}


def test_another_accounts_session(world: World) -> None:
    world.sim.add_account("OTHER", "other-token")
    world.sim.add_number("+6560000001", None, app_id="OTHER")
    other = world.sim.call(CALLER, "+6560000001")
    assert world.api(PLAY, session=other) == {"status": "error_session_access_denied"}
    assert world.api(HANGUP, session=other) == {"status": "error_session_access_denied"}
    # refused requests of another account leave no trace in the call
    assert [e["type"] for e in world.sim.get_call(other)["timeline"]] == ["ringing"]


@pytest.mark.parametrize("caller_id,status", [
    ("private", "success_ok"), (NUMBER, "success_ok"), (CALLER, "success_ok"),
    ("+6590000000", "error_caller_id_invalid"), ("+6560000001", "error_caller_id_invalid"),
    ("nobody", "error_caller_id_invalid"), ("+6511112222", "success_ok")])
def test_transfer_caller_id(world: World, caller_id: str, status: str) -> None:
    world.sim.add_account("OTHER", "other-token")
    world.sim.add_number("+6560000001", None, app_id="OTHER")
    world.sim.add_account(APP_ID, TOKEN, registered_number="+6511112222")
    world.sim.add_number(NUMBER, world.url("answer"), app_id=APP_ID)
    session = world.sim.call(CALLER, NUMBER)
    assert world.api(TRANSFER, session=session, dest=ANSWERS,
                     caller_id=caller_id)["status"] == status


def test_dial_caller_id_cannot_be_a_stranger(world: World) -> None:
    assert world.api(DIAL, dest=ANSWERS, caller_id=CALLER) == {
        "status": "error_caller_id_invalid"}
    assert world.api(DIAL, dest=ANSWERS, caller_id=NUMBER)["status"] == "success_ok"


def test_dest_not_supported(world: World) -> None:
    assert world.api(DIAL, dest="+80012345678") == {"status": "error_dest_not_supported"}
    session = world.sim.call(CALLER, NUMBER)
    assert world.api(TRANSFER, session=session, dest="+88212345678") == {
        "status": "error_dest_not_supported"}


def test_state_errors(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)
    assert world.api(UNHOLD, session=session) == {"status": "error_session_not_on_hold"}
    assert world.api(MONITOR, session=session, notify_url=world.url("m")) == {
        "status": "success_ok"}
    assert world.api(PLAY, session=session) == {"status": "error_session_not_ready"}
    assert world.api(HANGUP, session=session, force="enabled") == {"status": "success_ok"}
    assert world.api(PLAY, session=session) == {"status": "error_session_ended"}


def test_rate_limit_is_checked_last(make_world: Any) -> None:
    w = make_world(rate_limit=3)
    statuses = [w.api("user/get_balance")["status"] for _ in range(5)]
    assert statuses == ["success_ok"] * 3 + ["error_rate_limit_exceeded"] * 2
    assert w.api(PLAY) == {"status": "error_session_param_missing"}
    assert w.api(PLAY, session="S404") == {"status": "error_invalid_session"}
    session = w.sim.call(CALLER, NUMBER)
    assert w.api(UNHOLD, session=session) == {"status": "error_session_not_on_hold"}
    assert w.api(PLAY, session=session) == {"status": "error_rate_limit_exceeded"}
    assert w.api(DIAL, dest=ANSWERS) == {"status": "error_rate_limit_exceeded"}
    assert w.api("voice/query_status", txn_ref="AA-C-1") == {"status": "error_invalid_txn_ref"}


def test_the_timeline_masks_the_access_token(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)
    world.api(PLAY, session=session, msg="hi")
    (request,) = [e for e in world.sim.get_call(session)["timeline"] if e["type"] == "request"]
    assert request["params"]["access_token"] == "********"
    assert request["endpoint"] == PLAY and request["reply"] == {"status": "success_ok"}
    assert TOKEN not in str(world.sim.get_call(session))


# --------------------------------------------------------------------------- other endpoints

def test_get_balance(world: World) -> None:
    assert world.api("user/get_balance") == {"status": "success_ok", "currency": "SGD",
                                             "balance": "100.000"}


def test_get_active_and_update_forwarding(world: World) -> None:
    world.sim.add_account("OTHER", "other-token")
    world.sim.add_number("+6560000001", None, app_id="OTHER")
    active = world.api("number/get_active")
    assert all_strings(active) and active["entries_count"] == "1"
    (entry,) = active["entries"]
    assert entry["number"] == NUMBER and entry["forward_to"] == world.url("answer")
    assert entry["country"] == "SG" and entry["mode"] == "voice"
    new = world.url("new")
    assert world.api("number/update_forwarding", number=NUMBER, forward_to=new,
                     mode="voice") == {"status": "success_ok"}
    assert world.api("number/get_active")["entries"][0]["forward_to"] == new
    world.sim.call(CALLER, NUMBER)
    assert world.app.named("new")[0]["call_state"] == "ringing"
    for params, status in [({}, "error_number_param_missing"),
                           ({"number": "+6560000001"}, "error_number_invalid"),
                           ({"number": "12"}, "error_number_invalid"),
                           ({"number": NUMBER, "forward_to": "nope"}, "error_forward_to_invalid")]:
        assert world.api("number/update_forwarding", **params) == {"status": status}


def test_query_status_while_ongoing_has_no_duration(world: World) -> None:
    reply = world.api(DIAL, dest=ANSWERS, tag="mine")
    status = world.api("voice/query_status", txn_ref=reply["txn_ref"])
    assert all_strings(status)
    assert status["call_status"] == "ongoing" and status["tag"] == "mine"
    assert status["dest1"] == ANSWERS and "duration" not in status and "debit" not in status
    assert world.api("voice/query_status") == {"status": "error_txn_ref_param_missing"}
    assert world.api("voice/query_status", txn_ref="AA-C-1") == {
        "status": "error_invalid_txn_ref"}

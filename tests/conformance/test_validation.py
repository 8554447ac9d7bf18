"""Request validation: every parameter limit on both sides, the validation order, ids.

Each accepted case runs against a fresh ringing incoming call (so ``success_ok`` really
means the block was taken); each refused case checks the exact ``error_*`` status.
Protocol §1 (validation order, ids), §3 (limits), §4 (statuses), §6 (numbers, markup).
"""
from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import (ANSWERS, APP_ID, CALLER, NUMBER, OTHER_APP_ID, OTHER_NUMBER,
                       OTHER_TOKEN, TOKEN, Harness, assert_all_strings)

PLAY, GATHER, RECORD = "ivr/middle/play", "ivr/middle/gather", "ivr/middle/record"
MONITOR, HOLD, UNHOLD = "ivr/middle/monitor", "ivr/middle/hold", "ivr/middle/unhold"
TRANSFER, HANGUP, DIAL = "ivr/end/transfer", "ivr/end/hangup", "ivr/start/dial"
ROOM32 = "R" * 32
DEAD_HTTPS = "https://127.0.0.1:1/hook"  # an https URL nothing listens on


def long_url(api: Harness, length: int) -> str:
    head = api.url("long", "pad=")
    return head + "p" * (length - len(head))


# (endpoint, params, expected status) -- "URL" is replaced by a receiver notify URL.
ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    (PLAY, {}),
    (PLAY, {"msg": "m" * 1000}),
    (PLAY, {"tag": "t" * 256}),
    (PLAY, {"tag": "é" * 256}),                       # characters, not bytes
    (PLAY, {"tag": ""}),
    (PLAY, {"notify_url": "URL"}),
    (PLAY, {"notify_url": DEAD_HTTPS}),
    (GATHER, {"max_digits": "0"}),
    (GATHER, {"max_digits": "255"}),
    (GATHER, {"timeout": "1"}),
    (GATHER, {"timeout": "3600"}),
    (GATHER, {"attempts": "1"}),
    (GATHER, {"attempts": "10"}),
    (GATHER, {"msg": "Press 1.", "max_digits": "1", "timeout": "15", "attempts": "3",
              "tag": "menu"}),
    (RECORD, {"max_duration": "1"}),
    (RECORD, {"max_duration": "3600"}),
    (MONITOR, {}),
    (MONITOR, {"monitor_notify_url": "URL"}),
    (HOLD, {}),
    (HOLD, {"msg": "Please hold."}),
    (TRANSFER, {"dest": ANSWERS}),
    (TRANSFER, {"dest": "+123456"}),                  # 6 digits: the shortest E.164
    (TRANSFER, {"dest": "+123456789012345"}),         # 15 digits: the longest
    (TRANSFER, {"dest": "room:"}),
    (TRANSFER, {"dest": "room:Sales.team_1"}),
    (TRANSFER, {"dest": "room:" + ROOM32}),
    (TRANSFER, {"dest": ANSWERS, "on_failure": "hangup"}),
    (TRANSFER, {"dest": ANSWERS, "on_failure": "continue"}),
    (TRANSFER, {"dest": ANSWERS, "caller_id": "private"}),
    (TRANSFER, {"dest": ANSWERS, "caller_id": NUMBER}),
    (TRANSFER, {"dest": ANSWERS, "caller_id": CALLER}),   # the session's own caller
    (HANGUP, {}),
    (HANGUP, {"msg": "Bye.", "tag": "t" * 256}),
    (HANGUP, {"force": "enabled"}),
]

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (PLAY, {"msg": "m" * 1001}, "error_msg_invalid_length"),
    (PLAY, {"tag": "t" * 257}, "error_tag_invalid_length"),
    (PLAY, {"tag": "é" * 257}, "error_tag_invalid_length"),
    (PLAY, {"notify_url": "ftp://127.0.0.1/hook"}, "error_invalid_notify_url"),
    (PLAY, {"notify_url": "/relative/hook"}, "error_invalid_notify_url"),
    (PLAY, {"notify_url": "http://"}, "error_invalid_notify_url"),
    (PLAY, {"notify_url": "javascript:alert(1)"}, "error_invalid_notify_url"),
    (PLAY, {"notify_url": "127.0.0.1/hook"}, "error_invalid_notify_url"),
    (GATHER, {"max_digits": "-1"}, "error_invalid_max_digits"),
    (GATHER, {"max_digits": "256"}, "error_invalid_max_digits"),
    (GATHER, {"max_digits": "abc"}, "error_invalid_max_digits"),
    (GATHER, {"max_digits": "1.5"}, "error_invalid_max_digits"),
    (GATHER, {"max_digits": "1_0"}, "error_invalid_max_digits"),     # Python's int() takes it
    (GATHER, {"max_digits": "\uff15"}, "error_invalid_max_digits"),  # fullwidth 5
    (GATHER, {"max_digits": " 5"}, "error_invalid_max_digits"),
    (GATHER, {"timeout": "0"}, "error_invalid_timeout"),
    (GATHER, {"timeout": "3601"}, "error_invalid_timeout"),
    (GATHER, {"timeout": "ten"}, "error_invalid_timeout"),
    (GATHER, {"attempts": "0"}, "error_invalid_attempts"),
    (GATHER, {"attempts": "11"}, "error_invalid_attempts"),
    (GATHER, {"attempts": "x"}, "error_invalid_attempts"),
    (GATHER, {"msg": "m" * 1001}, "error_msg_invalid_length"),
    (GATHER, {"tag": "t" * 257}, "error_tag_invalid_length"),
    (RECORD, {"max_duration": "0"}, "error_invalid_max_duration"),
    (RECORD, {"max_duration": "3601"}, "error_invalid_max_duration"),
    (RECORD, {"max_duration": "long"}, "error_invalid_max_duration"),
    (MONITOR, {"monitor_notify_url": "ftp://127.0.0.1/x"}, "error_invalid_notify_url"),
    (HOLD, {"msg": "m" * 1001}, "error_msg_invalid_length"),
    (UNHOLD, {"tag": "t" * 257}, "error_tag_invalid_length"),
    (UNHOLD, {"notify_url": "gopher://127.0.0.1/"}, "error_invalid_notify_url"),
    (TRANSFER, {"dest": "6581000001"}, "error_dest_invalid"),
    (TRANSFER, {"dest": "+0123456"}, "error_dest_invalid"),
    (TRANSFER, {"dest": "+12345"}, "error_dest_invalid"),
    (TRANSFER, {"dest": "+1234567890123456"}, "error_dest_invalid"),
    (TRANSFER, {"dest": "+65 8100 0001"}, "error_dest_invalid"),
    (TRANSFER, {"dest": "room:" + ROOM32 + "R"}, "error_invalid_room"),
    (TRANSFER, {"dest": "room:a-b"}, "error_invalid_room"),
    (TRANSFER, {"dest": "room:a b"}, "error_invalid_room"),
    (TRANSFER, {"dest": ANSWERS, "on_failure": "retry"}, "error_on_failure_invalid"),
    (TRANSFER, {"dest": ANSWERS, "on_failure": "CONTINUE"}, "error_on_failure_invalid"),
    (TRANSFER, {"dest": ANSWERS, "caller_id": "+6590000000"}, "error_caller_id_invalid"),
    (TRANSFER, {"dest": ANSWERS, "caller_id": "anonymous"}, "error_caller_id_invalid"),
    (TRANSFER, {"dest": ANSWERS, "caller_id": OTHER_NUMBER}, "error_caller_id_invalid"),
    (TRANSFER, {"dest": ANSWERS, "msg": "m" * 1001}, "error_msg_invalid_length"),
    (TRANSFER, {"dest": ANSWERS, "tag": "t" * 257}, "error_tag_invalid_length"),
    (HANGUP, {"msg": "m" * 1001}, "error_msg_invalid_length"),
    (HANGUP, {"tag": "t" * 257}, "error_tag_invalid_length"),
    (HANGUP, {"notify_url": "file:///etc/passwd"}, "error_invalid_notify_url"),
]

NOTIFY_REQUIRED = {GATHER, RECORD, MONITOR}


def fill(api: Harness, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
    params = {k: (api.url("v") if v == "URL" else v) for k, v in params.items()}
    if endpoint in NOTIFY_REQUIRED:
        params.setdefault("notify_url", api.url("v"))
    return params


@pytest.mark.parametrize("endpoint,params", ACCEPTED, ids=lambda v: str(v)[:40])
def test_accepted(api: Harness, endpoint: str, params: dict[str, Any]) -> None:
    reply = api.api(endpoint, session=api.call(), **fill(api, endpoint, params))
    assert reply["status"] == "success_ok", reply
    assert_all_strings(reply)


@pytest.mark.parametrize("endpoint,params,status", REFUSED, ids=lambda v: str(v)[:40])
def test_refused(api: Harness, endpoint: str, params: dict[str, Any], status: str) -> None:
    session = api.call()
    reply = api.api(endpoint, session=session, **fill(api, endpoint, params))
    assert reply == {"status": status}
    # A refused block leaves the call as it was: the next valid block is taken.
    assert api.api(HANGUP, session=session, force="enabled")["status"] == "success_ok"


@pytest.mark.parametrize("length,status", [(4000, "success_ok"),
                                           (4001, "error_invalid_notify_url")])
def test_notify_url_length(api: Harness, length: int, status: str) -> None:
    url = long_url(api, length)
    assert len(url) == length
    assert api.api(PLAY, session=api.call(), notify_url=url)["status"] == status


@pytest.mark.parametrize("endpoint", [GATHER, RECORD, MONITOR])
def test_notify_url_required(api: Harness, endpoint: str) -> None:
    reply = api.api(endpoint, session=api.call())
    assert reply == {"status": "error_notify_url_param_missing"}


@pytest.mark.parametrize("endpoint", [PLAY, GATHER, RECORD, MONITOR, HOLD, UNHOLD, TRANSFER,
                                      HANGUP])
def test_session_required(api: Harness, endpoint: str) -> None:
    reply = api.api(endpoint, dest=ANSWERS, notify_url=api.url("v"))
    assert reply == {"status": "error_session_param_missing"}


def test_transfer_dest_required(api: Harness) -> None:
    reply = api.api(TRANSFER, session=api.call())
    assert reply == {"status": "error_dest_param_missing"}


# --------------------------------------------------------------------------- msg markup

LANGUAGES = ["en", "en-US", "en-GB", "zh-CN", "zh-HK", "zh-TW", "ms", "id", "th", "vi", "ja",
             "ko"]

GOOD_MSGS = [f'<speech language="{lang}">x</speech>' for lang in LANGUAGES] + [
    '<speech language="zh-HK" gender="male">你好</speech>',
    '<speech gender="female">hi</speech>',
    "Hello <speech gender=\"male\">there</speech> and bye",
    "<url>https://127.0.0.1:1/a.mp3</url>",
    "<url>http://127.0.0.1:1/a.wav</url>",
    "<url>http://127.0.0.1:1/dir/a.gsm</url>",
    "Fish & chips? no: plain text without markup is not XML",
]

BAD_MSGS = [
    ("<speech>unclosed", "error_msg_invalid_xml"),
    ("<speech language='en'>a</speach>", "error_msg_invalid_xml"),
    ("<foo>x</foo>", "error_msg_invalid_xml"),
    ("a < b <speech>c</speech>", "error_msg_invalid_xml"),
    ('<speech language="fr">bonjour</speech>', "error_msg_invalid_language"),
    ('<speech language="">x</speech>', "error_msg_invalid_language"),
    ('<speech gender="robot">x</speech>', "error_msg_invalid_gender"),
    ('<speech language="en" gender="">x</speech>', "error_msg_invalid_gender"),
    ("<url>ftp://127.0.0.1/a.mp3</url>", "error_msg_invalid_url"),
    ("<url>https://127.0.0.1/a.txt</url>", "error_msg_invalid_url"),
    ("<url>not a url</url>", "error_msg_invalid_url"),
]


@pytest.mark.parametrize("msg", GOOD_MSGS)
def test_msg_markup_accepted(api: Harness, msg: str) -> None:
    assert api.api(PLAY, session=api.call(), msg=msg)["status"] == "success_ok"


@pytest.mark.parametrize("msg,status", BAD_MSGS)
@pytest.mark.parametrize("endpoint", [PLAY, HANGUP])
def test_msg_markup_refused(api: Harness, endpoint: str, msg: str, status: str) -> None:
    assert api.api(endpoint, session=api.call(), msg=msg) == {"status": status}


# --------------------------------------------------------------------------- dial

@pytest.mark.parametrize("params,status", [
    ({"dest": ANSWERS}, "success_ok"),
    ({"dest": ANSWERS, "caller_id": "private"}, "success_ok"),
    ({"dest": ANSWERS, "caller_id": NUMBER}, "success_ok"),
    ({"dest": ANSWERS, "max_duration": "1"}, "success_ok"),
    ({"dest": ANSWERS, "max_duration": "86400"}, "success_ok"),
    ({"dest": ANSWERS, "msg": "m" * 1000, "tag": "t" * 256}, "success_ok"),
    ({}, "error_dest_param_missing"),
    ({"dest": "6581000001"}, "error_dest_invalid"),
    ({"dest": "+12345"}, "error_dest_invalid"),
    ({"dest": "room:abc"}, "error_dest_invalid"),
    ({"dest": ANSWERS, "caller_id": OTHER_NUMBER}, "error_caller_id_invalid"),
    ({"dest": ANSWERS, "caller_id": "12345"}, "error_caller_id_invalid"),
    ({"dest": ANSWERS, "max_duration": "soon"}, "error_invalid_max_duration"),
    ({"dest": ANSWERS, "max_duration": "-5"}, "error_invalid_max_duration"),
    ({"dest": ANSWERS, "msg": "m" * 1001}, "error_msg_invalid_length"),
    ({"dest": ANSWERS, "tag": "t" * 257}, "error_tag_invalid_length"),
    ({"dest": ANSWERS, "notify_url": "ftp://x/y"}, "error_invalid_notify_url"),
    ({"dest": ANSWERS, "msg": '<speech gender="x">a</speech>'}, "error_msg_invalid_gender"),
], ids=lambda v: str(v)[:40])
def test_dial_params(api: Harness, params: dict[str, Any], status: str) -> None:
    reply = api.api(DIAL, **{"notify_url": api.url("dial"), **params})
    assert reply["status"] == status, reply
    assert_all_strings(reply)
    if status == "success_ok":
        assert re.fullmatch(r"S\d+", reply["session"]), reply
        assert re.fullmatch(r"AA-C-\d+", reply["txn_ref"]), reply
    else:
        assert reply == {"status": status}


# --------------------------------------------------------------------------- order

def test_missing_app_id_beats_everything(api: Harness) -> None:
    reply = api.api(PLAY, auth=False, access_token=TOKEN, tag="t" * 257)
    assert reply == {"status": "error_app_id_param_missing"}
    assert api.api(PLAY, auth=False) == {"status": "error_app_id_param_missing"}


def test_missing_access_token_beats_bad_app_id_value(api: Harness) -> None:
    reply = api.api(PLAY, auth=False, app_id="nope", session="S1", tag="t" * 257)
    assert reply == {"status": "error_access_token_param_missing"}


def test_invalid_app_id_beats_missing_param(api: Harness) -> None:
    reply = api.api(GATHER, auth=False, app_id="AID-unknown", access_token=TOKEN)
    assert reply == {"status": "error_invalid_app_id"}


def test_invalid_token_beats_missing_param(api: Harness) -> None:
    reply = api.api(GATHER, auth=False, app_id=APP_ID, access_token="wrong")
    assert reply == {"status": "error_invalid_access_token"}
    # another app's (valid) token is still the wrong token for this app
    reply = api.api(PLAY, auth=False, app_id=APP_ID, access_token=OTHER_TOKEN,
                    session=api.call())
    assert reply == {"status": "error_invalid_access_token"}


def test_missing_param_beats_bad_value(api: Harness) -> None:
    assert api.api(PLAY, tag="t" * 257) == {"status": "error_session_param_missing"}
    assert api.api(GATHER, session=api.call(), max_digits="999") == {
        "status": "error_notify_url_param_missing"}
    assert api.api(TRANSFER, session=api.call(), on_failure="maybe") == {
        "status": "error_dest_param_missing"}
    assert api.api(DIAL, caller_id="nobody") == {"status": "error_dest_param_missing"}


def test_bad_value_beats_session_state(api: Harness, ended_session: str) -> None:
    assert api.api(PLAY, session=ended_session, tag="t" * 257) == {
        "status": "error_tag_invalid_length"}
    assert api.api(GATHER, session=ended_session, notify_url=api.url("v"), timeout="0") == {
        "status": "error_invalid_timeout"}
    assert api.api(UNHOLD, session=api.call(), tag="t" * 257) == {
        "status": "error_tag_invalid_length"}
    other = api.sim.call(CALLER, OTHER_NUMBER)
    assert api.api(PLAY, session=other, msg="m" * 1001) == {
        "status": "error_msg_invalid_length"}


def test_session_states(api: Harness, ended_session: str) -> None:
    assert api.api(PLAY, session=ended_session) == {"status": "error_session_ended"}
    assert api.api(HANGUP, session=ended_session) == {"status": "error_session_ended"}
    assert api.api(PLAY, session="S999999999") == {"status": "error_invalid_session"}
    assert api.api(PLAY, session="not-a-session") == {"status": "error_invalid_session"}
    other = api.sim.call(CALLER, OTHER_NUMBER)
    assert api.api(PLAY, session=other) == {"status": "error_session_access_denied"}
    assert api.api(HANGUP, session=other) == {"status": "error_session_access_denied"}
    assert api.api(UNHOLD, session=api.call()) == {"status": "error_session_not_on_hold"}


def test_account_limits_come_last(make_harness: Any) -> None:
    h = make_harness("virtual", max_concurrent_calls=2)
    h.sim.add_account("AIDPOOR", "tok-poor", balance="0.000")
    poor = {"auth": False, "app_id": "AIDPOOR", "access_token": "tok-poor"}
    assert h.api(DIAL, dest="12", **poor) == {"status": "error_dest_invalid"}
    assert h.api(DIAL, dest=ANSWERS, **poor) == {"status": "error_insufficient_credit"}
    for _ in range(2):
        assert h.api(DIAL, dest=ANSWERS, notify_url=h.url("d"))["status"] == "success_ok"
    assert h.api(DIAL, dest="12") == {"status": "error_dest_invalid"}
    assert h.api(DIAL, dest=ANSWERS) == {"status": "error_concurrent_call_limit_reached"}


def test_default_concurrent_call_limit_is_8(make_harness: Any) -> None:
    h = make_harness("virtual")
    for _ in range(8):
        assert h.api(DIAL, dest=ANSWERS, notify_url=h.url("d"))["status"] == "success_ok"
    assert h.api(DIAL, dest=ANSWERS) == {"status": "error_concurrent_call_limit_reached"}


# --------------------------------------------------------------------------- ids, methods

def test_ids_have_their_format_and_are_unguessable(api: Harness) -> None:
    replies = [api.api(DIAL, dest=ANSWERS, notify_url=api.url("d")) for _ in range(3)]
    for reply in replies:
        assert re.fullmatch(r"S\d{9,}", reply["session"])
        assert re.fullmatch(r"AA-C-\d{9,}", reply["txn_ref"])
    # Never sequential: one call's id does not lead to the next.
    for first, second in zip(replies, replies[1:]):
        assert abs(int(second["session"][1:]) - int(first["session"][1:])) > 1000
        assert abs(int(second["txn_ref"][5:]) - int(first["txn_ref"][5:])) > 1000
    rooms = [api.api(TRANSFER, session=api.call(), dest="room:") for _ in range(2)]
    for reply in rooms:
        assert reply["status"] == "success_ok", reply
        assert re.fullmatch(r"R-\d{9,}", reply["room"]), reply
    assert abs(int(rooms[1]["room"][2:]) - int(rooms[0]["room"][2:])) > 1000
    named = api.api(TRANSFER, session=api.call(), dest="room:Sales.team_1")
    assert named == {"status": "success_ok", "room": "Sales.team_1"}


def test_middle_block_replies_are_status_only(api: Harness) -> None:
    for endpoint, params in [(PLAY, {}), (GATHER, {"notify_url": api.url("v")}),
                             (RECORD, {"notify_url": api.url("v")}),
                             (MONITOR, {"notify_url": api.url("v")}), (HOLD, {}),
                             (HANGUP, {})]:
        assert api.api(endpoint, session=api.call(), **params) == {"status": "success_ok"}
    assert api.api(TRANSFER, session=api.call(), dest=ANSWERS) == {"status": "success_ok"}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("endpoint,params,status", [
    (PLAY, {"msg": "Hi."}, "success_ok"),
    (PLAY, {"tag": "t" * 257}, "error_tag_invalid_length"),
    (GATHER, {"notify_url": "URL", "max_digits": "1"}, "success_ok"),
    (HANGUP, {}, "success_ok"),
    ("user/get_balance", {}, "success_ok"),
    ("number/get_active", {}, "success_ok"),
    ("voice/query_status", {"txn_ref": "AA-C-999999999"}, "error_invalid_txn_ref"),
    ("number/update_forwarding", {"number": NUMBER, "forward_to": "URL", "mode": "voice"},
     "success_ok"),
], ids=lambda v: str(v)[:30])
def test_get_and_post_are_interchangeable(api: Harness, method: str, endpoint: str,
                                          params: dict[str, Any], status: str) -> None:
    params = fill(api, endpoint, params)
    if endpoint.startswith("ivr/"):
        params["session"] = api.call()
    if endpoint == "number/update_forwarding":
        params["forward_to"] = api.url("answer")
    reply = api.api(endpoint, method=method, **params)
    assert reply["status"] == status, reply
    assert_all_strings(reply)


def test_query_and_body_parameters_are_merged(api: Harness) -> None:
    session = api.call()
    res = api.raw("POST", f"/open/{PLAY}?app_id={APP_ID}&session={session}",
                  data={"access_token": TOKEN, "msg": "Hi."})
    assert res.status_code == 200
    assert res.json() == {"status": "success_ok"}


def test_plus_must_be_percent_encoded(api: Harness) -> None:
    # "+" in a form body is a space: "+6581000001" sent raw is " 6581000001".
    body = f"app_id={APP_ID}&access_token={TOKEN}&dest=+6581000001"
    res = api.raw("POST", f"/open/{DIAL}", data=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.json() == {"status": "error_dest_invalid"}
    res = api.raw("POST", f"/open/{DIAL}", data=body.replace("+", "%2B"),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.json()["status"] == "success_ok"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(api: Harness, method: str) -> None:
    res = api.raw(method, f"/open/{PLAY}", data={"app_id": APP_ID, "access_token": TOKEN,
                                                  "session": api.call()})
    assert res.status_code == 200, res.text
    assert res.json() == {"status": "error_invalid_http_method"}


# --------------------------------------------------------------------------- other endpoints

def test_get_balance_and_numbers(make_harness: Any) -> None:
    h = make_harness("virtual")
    assert h.api("user/get_balance") == {"status": "success_ok", "currency": "SGD",
                                         "balance": "100.000"}
    active = h.api("number/get_active")
    assert_all_strings(active)
    entries = [e for v in active.values() if isinstance(v, list) for e in v]
    assert {(e.get("number"), e.get("forward_to")) for e in entries} == {
        (NUMBER, h.url("answer"))}


def test_update_forwarding(make_harness: Any) -> None:
    h = make_harness("virtual")
    new = h.url("new-answer")
    assert h.api("number/update_forwarding", number=NUMBER, forward_to=new,
                 mode="voice") == {"status": "success_ok"}
    entries = [e for v in h.api("number/get_active").values() if isinstance(v, list)
               for e in v]
    assert {(e["number"], e["forward_to"]) for e in entries} == {(NUMBER, new)}
    session = h.call()
    note = h.wait_note(lambda n: n.get("session") == session)
    assert note.name == "new-answer" and note["call_state"] == "ringing"


@pytest.mark.parametrize("params,status", [
    ({"forward_to": "URL"}, "error_number_param_missing"),
    ({"number": "+6560000000", "forward_to": "URL"}, "error_number_invalid"),
    ({"number": OTHER_NUMBER, "forward_to": "URL"}, "error_number_invalid"),
    ({"number": NUMBER, "forward_to": "ftp://127.0.0.1/x"}, "error_forward_to_invalid"),
    ({"number": NUMBER, "forward_to": "not a url"}, "error_forward_to_invalid"),
])
def test_update_forwarding_refused(api: Harness, params: dict[str, Any], status: str) -> None:
    params = {k: (api.url("answer") if v == "URL" else v) for k, v in params.items()}
    assert api.api("number/update_forwarding", **params) == {"status": status}


def test_query_status_refused(api: Harness) -> None:
    assert api.api("voice/query_status") == {"status": "error_txn_ref_param_missing"}
    assert api.api("voice/query_status", txn_ref="AA-C-999999999") == {
        "status": "error_invalid_txn_ref"}
    assert api.api("user/get_balance", auth=False, app_id=OTHER_APP_ID,
                   access_token=TOKEN) == {"status": "error_invalid_access_token"}


def test_rate_limit_is_an_account_limit_checked_last(make_harness: Any) -> None:
    # Simulator(rate_limit=...) is an option beyond the fixed interface; the protocol's
    # order puts account limits after parameters and session state (§1).
    h = make_harness("real", rate_limit=2)
    assert h.api("user/get_balance")["status"] == "success_ok"
    assert h.api("user/get_balance")["status"] == "success_ok"
    assert h.api("user/get_balance") == {"status": "error_rate_limit_exceeded"}
    assert h.api(PLAY) == {"status": "error_session_param_missing"}
    assert h.api(PLAY, session="S1", tag="t" * 257) == {"status": "error_tag_invalid_length"}

"""Call flows, each run on the VirtualClock in-process and on the RealClock over HTTP.

The app side is the receiver: reactions registered with ``h.on(name, ...)`` issue the next
block from inside the notification handler, as real apps do. Protocol §2 (call model),
§3 (block semantics) and §5 (the "which block produces which notification" table).
"""
from __future__ import annotations

import io
import re
import wave
from decimal import Decimal
from typing import Any

import pytest

from .conftest import (ANSWERS, APP_ID, BUSY, CALLER, ENDED, FAILED, NUMBER, OTHER_TOKEN,
                       TOKEN, UNANSWERED, Harness, Note, assert_billing, signature_ok)

PLAY, GATHER, RECORD = "ivr/middle/play", "ivr/middle/gather", "ivr/middle/record"
MONITOR, HOLD, UNHOLD = "ivr/middle/monitor", "ivr/middle/hold", "ivr/middle/unhold"
TRANSFER, HANGUP, DIAL = "ivr/end/transfer", "ivr/end/hangup", "ivr/start/dial"
BLOCK_FIELDS = {"dest", "dial_status", "digits", "record_url", "transfer_status"}
BILLING = {"date", "duration", "currency", "rate", "debit"}
LONG_MSG = " ".join(["This is a long announcement that keeps on going."] * 12)


def assert_wire(h: Harness) -> None:
    """Every notification: a signed form POST with the always-present fields; ``from`` and
    ``to`` on every notification of an incoming call, ``dest`` on every one of a Dial."""
    notes = h.receiver.snapshot()
    incoming = {n["session"] for n in notes if n["call_state"] == "ringing"}
    for note in notes:
        if note["session"] in incoming:
            assert note["from"] == CALLER and note["to"] in {NUMBER, "+6561110001"}, note
        else:
            assert "dest" in note.form and "from" not in note.form, note
        assert note.method == "POST", note
        assert note.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"), note.headers
        token = OTHER_TOKEN if note.name == "other-answer" else TOKEN
        assert signature_ok(note, token), note
        form = note.form
        for name in ("call_state", "ivr_block", "session", "txn_ref", "tag"):
            assert name in form, (name, note)
        assert form["call_state"] in {"ringing", "ongoing", "ended"}
        assert re.fullmatch(r"S\d+", form["session"]), form
        assert re.fullmatch(r"AA-C-\d+", form["txn_ref"]), form
        if form["call_state"] == "ended":
            assert BILLING <= set(form), note
        else:
            assert not BILLING & set(form), note


def only(h: Harness, name: str, session: str) -> Note:
    notes = h.notes(name, session)
    assert len(notes) == 1, notes
    return notes[0]


def answer_with(h: Harness, endpoint: str, **params: Any) -> None:
    """On the ringing notification, issue ``endpoint``; the reply must be success_ok."""
    h.on("answer", lambda n: _ok(h.reply(n, endpoint, **params)))


def _ok(reply: dict[str, Any]) -> None:
    assert reply == {"status": "success_ok"} or reply.get("status") == "success_ok", reply


def hang_up_on(h: Harness, name: str, **params: Any) -> None:
    h.on(name, lambda n: _ok(h.reply(n, HANGUP, notify_url=h.url("bye"), **params)))


def download(h: Harness, url: str) -> bytes:
    res = h.http.get(url, timeout=10)
    assert res.status_code == 200, res.status_code
    return res.content


def assert_wav(data: bytes) -> None:
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnframes() > 0 and wav.getframerate() > 0


# --------------------------------------------------------------------------- answer

def test_ringing_then_dropped_after_the_wait(h: Harness) -> None:
    session = h.call()
    ringing = h.wait_note(lambda n: n.name == "answer")
    assert ringing["session"] == session
    assert ringing.form == {**ringing.form, "call_state": "ringing", "ivr_block": "answer",
                            "from": CALLER, "to": NUMBER, "tag": ""}
    assert not BLOCK_FIELDS & set(ringing.form)
    assert b"%2B65" in ringing.body                     # "+" percent-encoded on the wire
    ended = h.ended(session)
    assert ended.name == "answer"                       # no notify_url yet: forward_to
    assert ended.form["duration"] == "0" and ended.form["debit"] == "0.000"
    assert ended["txn_ref"] == ringing["txn_ref"]
    assert h.get_call(session)["state"] == ENDED
    assert_wire(h)


def test_play_notification_and_pass_on_parameters(h: Harness) -> None:
    answer_with(h, PLAY, msg="Hi.", tag="p1",
                notify_url=h.url("play", "app_state=gather&x=1&empty="))
    hang_up_on(h, "play")
    session = h.call()
    ended = h.ended(session)
    play = only(h, "play", session)
    assert play.query == "app_state=gather&x=1&empty="          # kept in the URL
    form = play.form
    assert form["app_state"] == "gather" and form["x"] == "1" and form["empty"] == ""
    assert form["call_state"] == "ongoing" and form["ivr_block"] == "play"
    assert form["tag"] == "p1" and form["from"] == CALLER and form["to"] == NUMBER
    assert not BLOCK_FIELDS & set(form)
    assert ended.name == "bye" and ended["ivr_block"] == "hangup" and ended["tag"] == ""
    assert re.search(rb"(^|&)tag=(&|$)", ended.body), ended.body   # empty value as "tag="
    assert assert_billing(ended) >= 1
    call = h.get_call(session)
    assert call["state"] == ENDED and call["prompts"][:1] == ["Hi."]
    assert_wire(h)


def test_play_without_notify_url_hangs_up_after_it(h: Harness) -> None:
    answer_with(h, PLAY, msg="Hi.")
    session = h.call()
    h.wait_state(session, lambda c: c["state"] == ENDED)
    assert not [n for n in h.notes(session=session) if n["call_state"] == "ongoing"]
    assert h.api(PLAY, session=session) == {"status": "error_session_ended"}


# --------------------------------------------------------------------------- gather

@pytest.mark.parametrize("max_digits,keys,digits", [("3", "12#", "12"), ("3", "4567", "456"),
                                                    ("0", "123456#", "123456")])
def test_gather_collects_keys(h: Harness, max_digits: str, keys: str, digits: str) -> None:
    answer_with(h, GATHER, msg="Press.", max_digits=max_digits, timeout="30",
                notify_url=h.url("gather"), tag="menu")
    hang_up_on(h, "gather")
    session = h.call()
    h.waiting_for_caller(session)
    h.press(session, keys)
    ended = h.ended(session)
    gather = only(h, "gather", session)
    assert gather.form["digits"] == digits
    assert gather["call_state"] == "ongoing" and gather["ivr_block"] == "gather"
    assert gather["tag"] == "menu"
    assert ended.name == "bye"
    assert h.get_call(session)["prompts"][0] == "Press."
    assert_wire(h)


def test_gather_timeout_replays_prompt_then_answers_empty(h: Harness) -> None:
    answer_with(h, GATHER, msg="Press.", max_digits="1", timeout="1", attempts="2",
                notify_url=h.url("gather"))
    hang_up_on(h, "gather")
    session = h.call()
    h.ended(session)
    gather = only(h, "gather", session)
    assert gather.form["digits"] == ""
    assert re.search(rb"(^|&)digits=(&|$)", gather.body), gather.body
    assert h.get_call(session)["prompts"].count("Press.") == 2
    assert_wire(h)


def test_gather_partial_input_then_timeout(h: Harness) -> None:
    answer_with(h, GATHER, msg="Press.", max_digits="4", timeout="1", attempts="3",
                notify_url=h.url("gather"))
    hang_up_on(h, "gather")
    session = h.call()
    h.waiting_for_caller(session)
    h.press(session, "7")
    h.ended(session)
    assert only(h, "gather", session).form["digits"] == "7"
    assert h.get_call(session)["prompts"].count("Press.") == 1


def test_caller_hangs_up_during_gather(h: Harness) -> None:
    answer_with(h, GATHER, msg="Press.", notify_url=h.url("gather"), timeout="60")
    session = h.call()
    h.waiting_for_caller(session)
    h.caller_hangup(session)
    ended = h.ended(session)
    assert ended.name == "gather"                   # the most recent notify_url
    assert ended["ivr_block"] == "gather"
    assert_billing(ended)
    assert not [n for n in h.notes(session=session) if n["call_state"] == "ongoing"]
    assert h.api(PLAY, session=session) == {"status": "error_session_ended"}
    assert_wire(h)


# --------------------------------------------------------------------------- record

def test_record_until_hash(h: Harness) -> None:
    answer_with(h, RECORD, msg="Speak.", max_duration="30", notify_url=h.url("record"),
                tag="vm")
    hang_up_on(h, "record")
    session = h.call()
    h.waiting_for_caller(session)
    h.speak(session, 1.0)
    h.pause(1.0)
    h.press(session, "#")
    h.ended(session)
    record = only(h, "record", session)
    assert record["call_state"] == "ongoing" and record["ivr_block"] == "record"
    assert record["tag"] == "vm"
    assert_wav(download(h, record["record_url"]))
    assert_wire(h)


def test_record_max_duration(h: Harness) -> None:
    answer_with(h, RECORD, max_duration="1", notify_url=h.url("record"))
    hang_up_on(h, "record")
    session = h.call()
    h.ended(session)
    assert only(h, "record", session)["record_url"]


def test_caller_hangs_up_during_record_recording_at_ended(h: Harness) -> None:
    answer_with(h, RECORD, msg="Speak.", max_duration="60", notify_url=h.url("record"))
    session = h.call()
    h.waiting_for_caller(session)
    h.speak(session, 1.0)
    h.pause(1.0)
    h.caller_hangup(session)
    ended = h.ended(session)
    assert ended.name == "record" and ended["ivr_block"] == "record"
    assert_billing(ended)
    assert_wav(download(h, ended["record_url"]))
    assert not [n for n in h.notes(session=session) if n["call_state"] == "ongoing"]
    assert_wire(h)


# --------------------------------------------------------------------------- concurrency of blocks

def test_block_while_another_runs_and_hangup_mid_block(h: Harness) -> None:
    replies: list[dict[str, Any]] = []

    def answer(note: Note) -> None:
        replies.append(h.reply(note, PLAY, msg=LONG_MSG, notify_url=h.url("play")))
        replies.append(h.reply(note, PLAY, msg="Second.", notify_url=h.url("play")))
        replies.append(h.reply(note, GATHER, notify_url=h.url("gather")))
        replies.append(h.reply(note, HANGUP, msg="Never heard.", notify_url=h.url("bye")))
    h.on("answer", answer)
    session = h.call()
    ended = h.ended(session)
    assert [r["status"] for r in replies] == ["success_ok", "error_session_not_ready",
                                              "error_session_not_ready", "success_ok"]
    assert ended.name == "bye" and ended["ivr_block"] == "hangup"
    assert not h.notes("play", session) and not h.notes("gather", session)
    prompts = h.get_call(session)["prompts"]
    assert "Never heard." not in prompts and "Second." not in prompts
    assert_wire(h)


def test_hangup_while_gather_collects(h: Harness) -> None:
    answer_with(h, GATHER, msg="Press.", timeout="60", notify_url=h.url("gather"))
    session = h.call()
    h.waiting_for_caller(session)
    assert h.api(HANGUP, session=session, msg="Not played.",
                 notify_url=h.url("bye")) == {"status": "success_ok"}
    ended = h.ended(session)
    assert ended.name == "bye"
    assert not h.notes("gather", session)
    assert "Not played." not in h.get_call(session)["prompts"]


def test_hangup_with_message_is_played(h: Harness) -> None:
    answer_with(h, PLAY, msg="Hi.", notify_url=h.url("play"))
    hang_up_on(h, "play", msg="Goodbye.", tag="end")
    session = h.call()
    ended = h.ended(session)
    assert ended["tag"] == "end" and ended["ivr_block"] == "hangup"
    assert h.get_call(session)["prompts"] == ["Hi.", "Goodbye."]


# --------------------------------------------------------------------------- the wait

def test_wait_runs_out_after_a_notification(h: Harness) -> None:
    answer_with(h, PLAY, msg="Hi.", notify_url=h.url("play"))
    session = h.call()
    ended = h.ended(session)
    play = h.notes("play", session)[0]
    assert play["call_state"] == "ongoing"
    assert ended.name == "play" and ended["ivr_block"] == "play"
    assert assert_billing(ended) >= 1
    if not h.virtual:
        waited = (ended.at - play.at) * h.speed
        assert h.wait * 0.9 <= waited <= h.wait + 2.0 * h.speed, waited


def test_wait_is_60_seconds_on_the_virtual_clock(make_harness: Any) -> None:
    h = make_harness("virtual")
    assert h.wait == 60.0
    answer_with(h, PLAY, msg="Hi.", notify_url=h.url("play"))
    session = h.sim.call(CALLER, NUMBER)
    steps = 0
    while not h.notes("play", session):
        h.sim.advance(0.5)
        steps += 1
        assert steps < 1000
    for _ in range(119):                             # 59.5 s: still waiting
        h.sim.advance(0.5)
    assert not [n for n in h.notes(session=session) if n["call_state"] == "ended"]
    h.sim.advance(1.0)                               # 60.5 s
    assert [n for n in h.notes("play", session) if n["call_state"] == "ended"]


# --------------------------------------------------------------------------- hold

def test_hold_pauses_the_wait_and_refuses_other_blocks(h: Harness) -> None:
    replies: list[dict[str, Any]] = []

    def answer(note: Note) -> None:
        replies.append(h.reply(note, HOLD, msg="Please hold."))
        replies.append(h.reply(note, PLAY, msg="x", notify_url=h.url("play")))
        replies.append(h.reply(note, GATHER, notify_url=h.url("gather")))
        replies.append(h.reply(note, HOLD))
        replies.append(h.reply(note, TRANSFER, dest=ANSWERS))
    h.on("answer", answer)

    def unhold(note: Note) -> None:
        replies.append(h.reply(note, UNHOLD))
        replies.append(h.reply(note, HANGUP, notify_url=h.url("bye")))
    h.on("unhold", unhold)
    session = h.call()
    h.waiting_for_caller(session)
    h.no_note(lambda n: n.get("session") == session and n["call_state"] == "ended",
              2.5 * h.wait)
    assert h.get_call(session)["state"] != ENDED
    assert h.api(UNHOLD, session=session, notify_url=h.url("unhold"), tag="u") == {
        "status": "success_ok"}
    ended = h.ended(session)
    assert [r["status"] for r in replies] == [
        "success_ok", "error_session_not_ready", "error_session_not_ready",
        "error_session_not_ready", "error_session_not_ready",
        "error_session_not_on_hold", "success_ok"]
    note = only(h, "unhold", session)
    assert note["call_state"] == "ongoing" and note["ivr_block"] == "unhold"
    assert note["tag"] == "u" and not BLOCK_FIELDS & set(note.form)
    assert ended.name == "bye"
    assert "Please hold." in h.get_call(session)["prompts"]
    assert_wire(h)


def test_caller_hangs_up_on_hold_without_any_notify_url(h: Harness) -> None:
    answer_with(h, HOLD)
    session = h.call()
    h.waiting_for_caller(session)
    h.caller_hangup(session)
    ended = h.ended(session)
    assert ended.name == "answer"                     # no notify_url ever: forward_to
    assert_billing(ended)


def test_hangup_during_hold(h: Harness) -> None:
    answer_with(h, HOLD)
    session = h.call()
    h.waiting_for_caller(session)
    assert h.api(HANGUP, session=session, notify_url=h.url("bye")) == {"status": "success_ok"}
    assert h.ended(session).name == "bye"


# --------------------------------------------------------------------------- transfer

@pytest.mark.parametrize("dest,status", [(BUSY, "busy"), (UNANSWERED, "unanswered"),
                                         (FAILED, "failed")])
def test_transfer_fails_on_failure_continue(h: Harness, dest: str, status: str) -> None:
    answer_with(h, TRANSFER, dest=dest, msg="Connecting.", on_failure="continue",
                notify_url=h.url("xfer"), tag="sales")
    h.on("xfer", lambda n: _ok(h.reply(n, PLAY, msg="Sorry.", notify_url=h.url("play"))))
    hang_up_on(h, "play")
    session = h.call()
    ended = h.ended(session)
    xfer = only(h, "xfer", session)
    assert xfer["call_state"] == "ongoing" and xfer["ivr_block"] == "transfer"
    assert xfer["transfer_status"] == status and xfer["tag"] == "sales"
    assert ended.name == "bye"
    assert h.get_call(session)["prompts"] == ["Connecting.", "Sorry."]
    assert_wire(h)


@pytest.mark.parametrize("on_failure", [None, "hangup"])
def test_transfer_fails_on_failure_hangup(h: Harness, on_failure: str | None) -> None:
    answer_with(h, TRANSFER, dest=BUSY, on_failure=on_failure, notify_url=h.url("xfer"))
    session = h.call()
    ended = h.ended(session)
    assert ended.name == "xfer" and ended["ivr_block"] == "transfer"
    assert ended["transfer_status"] == "busy"
    assert_billing(ended)
    assert h.api(PLAY, session=session) == {"status": "error_session_ended"}
    assert_wire(h)


def test_transfer_answered_ends_after_the_transferred_call(h: Harness) -> None:
    answer_with(h, TRANSFER, dest=ANSWERS, notify_url=h.url("xfer"))
    session = h.call()
    ended = h.ended(session)
    assert ended.name == "xfer" and ended["transfer_status"] == "answered"
    assert_billing(ended) >= 1
    assert len(h.notes("xfer", session)) == 1
    assert ANSWERS in str(h.get_call(session)["transferred_to"])
    assert h.api(PLAY, session=session) == {"status": "error_session_ended"}
    assert_wire(h)


def test_transfer_to_a_new_room(h: Harness) -> None:
    rooms: list[dict[str, Any]] = []
    h.on("answer", lambda n: rooms.append(h.reply(n, TRANSFER, dest="room:",
                                                  notify_url=h.url("xfer"))))
    session = h.call()
    call = h.waiting_for_caller(session)
    assert call["state"] == "talking"
    assert rooms[0]["status"] == "success_ok" and re.fullmatch(r"R-\d+", rooms[0]["room"])
    h.pause(5.0)
    h.caller_hangup(session)
    ended = h.ended(session)
    assert ended.name == "xfer" and ended["transfer_status"] == "answered"
    assert assert_billing(ended) == 1
    assert h.get_call(session)["transferred_to"] == "room:" + rooms[0]["room"]
    assert_wire(h)


def test_hangup_while_ringing_rejects_the_call(h: Harness) -> None:
    answer_with(h, HANGUP, notify_url=h.url("bye"), force="enabled")
    session = h.call()
    ended = h.ended(session)
    assert ended.name == "bye" and ended["ivr_block"] == "hangup"
    assert ended["duration"] == "0" and ended["debit"] == "0.000"
    assert h.get_call(session)["prompts"] == []


# --------------------------------------------------------------------------- monitor

def test_monitor_recording_at_ended(h: Harness) -> None:
    replies: list[dict[str, Any]] = []

    def monitor(note: Note) -> None:
        replies.append(h.reply(note, MONITOR, notify_url=h.url("mon2")))
        replies.append(h.reply(note, GATHER, msg="Press.", notify_url=h.url("gather")))
    answer_with(h, MONITOR, msg="This call is recorded.", notify_url=h.url("mon"), tag="m")
    h.on("mon", monitor)
    session = h.call()
    h.waiting_for_caller(session)
    h.speak(session, 1.0)
    h.pause(1.0)
    h.caller_hangup(session)
    ended = h.ended(session)
    mon = only(h, "mon", session)
    assert mon["call_state"] == "ongoing" and mon["ivr_block"] == "monitor"
    assert mon["tag"] == "m" and not BLOCK_FIELDS & set(mon.form)
    assert [r["status"] for r in replies] == ["error_monitor_in_progress", "success_ok"]
    assert ended.name == "gather"
    assert_wav(download(h, ended["record_url"]))
    assert_wire(h)


def test_monitor_recording_to_monitor_notify_url(h: Harness) -> None:
    answer_with(h, MONITOR, notify_url=h.url("mon"), monitor_notify_url=h.url("monrec"))
    h.on("mon", lambda n: _ok(h.reply(n, HOLD)))
    session = h.call()
    h.waiting_for_caller(session)
    h.pause(2.0)
    h.caller_hangup(session)
    rec = h.wait_note(lambda n: n.name == "monrec" and n.get("session") == session)
    assert rec["call_state"] == "ended"
    assert_wav(download(h, rec["record_url"]))
    assert_wire(h)


# --------------------------------------------------------------------------- dial

def test_dial_answered(h: Harness) -> None:
    reply = h.api(DIAL, dest=ANSWERS, msg="Hello.", caller_id=NUMBER, tag="out",
                  notify_url=h.url("dial"))
    assert reply["status"] == "success_ok"
    session = reply["session"]
    h.sessions.append(session)
    hang_up_on(h, "dial")
    ended = h.ended(session)
    dial = only(h, "dial", session)
    assert dial["txn_ref"] == reply["txn_ref"] == ended["txn_ref"]
    assert dial["call_state"] == "ongoing" and dial["ivr_block"] == "dial"
    assert dial["dest"] == ANSWERS and dial["dial_status"] == "answered"
    assert dial["tag"] == "out"
    assert ended.name == "bye" and ended["dest"] == ANSWERS
    assert h.get_call(session)["prompts"][0] == "Hello."
    assert assert_billing(ended) >= 1
    assert_wire(h)


@pytest.mark.parametrize("dest,status", [(BUSY, "busy"), (UNANSWERED, "unanswered"),
                                         (FAILED, "failed")])
def test_dial_not_answered(h: Harness, dest: str, status: str) -> None:
    reply = h.api(DIAL, dest=dest, msg="Hello.", notify_url=h.url("dial"))
    session = reply["session"]
    h.sessions.append(session)
    ended = h.ended(session)
    assert ended.name == "dial" and ended["ivr_block"] == "dial"
    assert ended["dest"] == dest and ended["dial_status"] == status
    assert assert_billing(ended) == 0 and ended["debit"] == "0.000"
    assert len(h.notes("dial", session)) == 1
    assert "Hello." not in h.get_call(session)["prompts"]
    assert h.api(PLAY, session=session) == {"status": "error_session_ended"}
    assert_wire(h)


def test_dial_max_duration(h: Harness) -> None:
    h.sim.set_phone("+6581000009", behaviour="answer", talk_seconds=3600)
    h.on("dial", lambda n: _ok(h.reply(n, HOLD)))
    reply = h.api(DIAL, dest="+6581000009", max_duration="1", notify_url=h.url("dial"))
    session = reply["session"]
    h.sessions.append(session)
    ended = h.ended(session)
    assert ended.name == "dial" and ended["dial_status"] == "answered"
    assert assert_billing(ended) == 1


# --------------------------------------------------------------------------- billing

def test_billing_balance_and_query_status(h: Harness) -> None:
    answer_with(h, PLAY, msg="Hi.", notify_url=h.url("play"))
    hang_up_on(h, "play")
    session = h.call()
    ended = h.ended(session)
    minutes = assert_billing(ended)
    assert minutes >= 1
    balance = h.api("user/get_balance")
    assert Decimal(balance["balance"]) == Decimal("100.000") - Decimal(ended["debit"])
    status = h.api("voice/query_status", txn_ref=ended["txn_ref"])
    assert status["status"] == "success_ok"
    for name in ("date", "duration", "currency", "rate", "debit"):
        assert status[name] == ended[name], (name, status)


def test_billing_rounds_minutes_up(make_harness: Any) -> None:
    h = make_harness("virtual", accounts=False)
    h.sim.add_account(APP_ID, "tok-billing", balance="10.000", currency="SGD", rate="0.035")
    h.sim.add_number(NUMBER, h.url("answer"), app_id=APP_ID)
    answer_with_token = {"auth": False, "app_id": APP_ID, "access_token": "tok-billing"}
    h.on("answer", lambda n: _ok(h.reply(n, HOLD, **answer_with_token)))
    session = h.sim.call(CALLER, NUMBER)
    h.sim.settle(session)
    h.sim.advance(125.0)
    assert h.api(HANGUP, session=session, notify_url=h.url("bye"),
                 **answer_with_token)["status"] == "success_ok"
    h.sim.settle(session)
    ended = only(h, "bye", session)
    assert ended["duration"] == "3" and ended["rate"] == "0.035" and ended["debit"] == "0.105"
    balance = h.api("user/get_balance", **answer_with_token)
    assert balance == {"status": "success_ok", "currency": "SGD", "balance": "9.895"}
    billing = h.sim.get_call(session)["billing"]
    assert str(billing) and "0.105" in str(billing)

"""The call engine on the virtual clock, in-process: every block's timing and notification.

Timings use :data:`SLOW` (one word a second, no padding), so a prompt of N words lasts N s.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from hoiivr.carriers.hoiio import compute_signature
from hoiivr.simulator import SettleTimeout, SimulatorError, UnknownCall

from .conftest import (ANSWERS, APP_ID, BUSY, CALLER, DIAL, FAILED, GATHER, HANGUP, HOLD,
                       MONITOR, NUMBER, PLAY, RECORD, SLOW, TOKEN, TRANSFER, UNANSWERED, UNHOLD, Note,
                       World)


def notified(w: World, session: str, block: str, state: str | None = None) -> list[dict]:
    """The timeline's notification entries for ``block`` (and ``state``)."""
    return [e for e in w.sim.get_call(session)["timeline"] if e["type"] == "notification"
            and e["ivr_block"] == block and (state is None or e["call_state"] == state)]


def at(w: World, session: str, block: str, state: str | None = None) -> float:
    entries = notified(w, session, block, state)
    assert len(entries) == 1, entries
    return entries[0]["at"]


# --------------------------------------------------------------------------- ringing, play

def test_ringing_notification(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)
    (note,) = world.app.named("answer")
    assert note.form == {"call_state": "ringing", "ivr_block": "answer", "session": session,
                         "txn_ref": "AA-C-" + session[1:], "tag": "", "from": CALLER,
                         "to": NUMBER}
    assert note.body.startswith(b"call_state=ringing&ivr_block=answer&session=S")
    assert b"from=%2B6591234567" in note.body
    assert note.headers["X-Hoiio-Signature"] == compute_signature(note.body, TOKEN)
    assert note.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert world.sim.get_call(session)["state"] == "ringing"


def test_play_lasts_as_long_as_its_words(world: World) -> None:
    world.answer_with(PLAY, msg="one two three four", notify_url=world.url("play"), tag="t1")
    session = world.sim.call(CALLER, NUMBER)
    assert world.sim.get_call(session)["state"] == "playing"
    world.sim.advance(3.9)
    assert not world.app.named("play")
    world.sim.advance(0.1)
    (note,) = world.app.named("play")
    assert note.form["call_state"] == "ongoing" and note["ivr_block"] == "play"
    assert note["tag"] == "t1" and "digits" not in note.form
    assert at(world, session, "play") == 4.0
    call = world.sim.get_call(session)
    assert call["state"] == "waiting" and call["prompts"] == ["one two three four"]
    assert call["answered_at"] == 0.0


def test_prompt_media_is_noted(world: World) -> None:
    msg = ('Hello <speech language="zh-HK" gender="male">你好</speech>'
           '<url>http://media.test/jingle.mp3</url>')
    world.answer_with(PLAY, msg=msg, notify_url=world.url("play"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    # "Hello" 1 s + two CJK characters (one word) 1 s + the audio file 3 s
    assert at(world, session, "play", "ongoing") == 5.0
    (prompt,) = world.sim.get_call(session)["prompt_log"]
    assert prompt["text"] == "Hello 你好 [audio http://media.test/jingle.mp3]"
    assert prompt["segments"] == [
        {"text": "Hello", "language": "en", "gender": "female"},
        {"text": "你好", "language": "zh-HK", "gender": "male"},
        {"audio": "http://media.test/jingle.mp3"}]


def test_play_without_notify_url_hangs_up_with_no_notification(world: World) -> None:
    world.answer_with(PLAY, msg="bye now")
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    call = world.sim.get_call(session)
    assert call["state"] == "ended" and call["ended_at"] == 2.0
    assert [n["call_state"] for n in world.app.notes] == ["ringing"]
    assert call["billing"]["duration"] == "1"


def test_pass_on_parameters_and_empty_values(world: World) -> None:
    world.answer_with(PLAY, notify_url=world.url("play", "app_state=menu&empty=&session=x"))
    world.sim.settle(world.sim.call(CALLER, NUMBER))
    (note,) = world.app.named("play", "ongoing")
    assert note.query == "app_state=menu&empty=&session=x"
    assert note.form["app_state"] == "menu" and note.form["empty"] == ""
    assert note.form["session"].startswith("S")         # the notification's own field wins
    assert b"&tag=&" in note.body and note.body.endswith(b"&app_state=menu&empty=")


# --------------------------------------------------------------------------- gather

def gather_world(world: World, **params: Any) -> str:
    world.answer_with(GATHER, msg="press a key", notify_url=world.url("gather"), **params)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    return session


def test_settle_stops_when_the_gather_collects_and_never_fires_its_timeout(world: World) -> None:
    session = gather_world(world, timeout=5)
    assert world.sim.clock.now() == 3.0
    assert world.sim.get_call(session)["state"] == "collecting"
    world.sim.settle(session)                           # already at rest: nothing moves
    assert world.sim.clock.now() == 3.0 and not world.app.named("gather")


@pytest.mark.parametrize("params,keys,digits", [
    ({"max_digits": 1}, "1", "1"),
    ({"max_digits": 3}, "12#", "12"),
    ({"max_digits": 3}, "98765", "987"),
    ({}, "123456789#", "123456789"),
    ({}, "#", ""),
    ({"max_digits": 2}, "*0", "*0"),
])
def test_gather_keys(world: World, params: dict[str, Any], keys: str, digits: str) -> None:
    session = gather_world(world, **params)
    world.sim.press(session, keys)
    (note,) = world.app.named("gather")
    assert note.form["digits"] == digits
    assert at(world, session, "gather") == 3.0           # at once, no time passes


def test_extra_keys_are_ignored_and_logged(world: World) -> None:
    session = gather_world(world, max_digits=1)
    world.sim.press(session, "123")
    assert world.app.named("gather")[0]["digits"] == "1"
    ignored = [e for e in world.sim.get_call(session)["timeline"] if e["type"] == "keys_ignored"]
    assert ignored[0]["digits"] == "23"


def test_gather_timeout_replays_the_prompt_then_answers_empty(world: World) -> None:
    session = gather_world(world, timeout=5, attempts=3)
    for replay_at in (8.0, 16.0):                       # prompt 3 s + timeout 5 s, again
        world.sim.advance(replay_at - world.sim.clock.now())
        assert world.sim.get_call(session)["state"] == "playing"
    world.sim.advance(24.0 - world.sim.clock.now())
    (note,) = world.app.named("gather")
    assert note.form["digits"] == "" and b"&digits=" in note.body
    call = world.sim.get_call(session)
    assert call["prompts"] == ["press a key"] * 3
    assert [p["attempt"] for p in call["prompt_log"]] == [1, 2, 3]


def test_partial_input_is_the_answer_and_the_timeout_restarts_per_key(world: World) -> None:
    session = gather_world(world, timeout=5, max_digits=4, attempts=3)
    world.sim.advance(4.0)
    world.sim.press(session, "7")                      # at 7.0: the timeout now ends at 12.0
    world.sim.advance(4.9)
    assert not world.app.named("gather")
    world.sim.advance(0.1)
    assert world.app.named("gather")[0]["digits"] == "7"
    assert world.sim.get_call(session)["prompts"] == ["press a key"]


def test_a_key_during_the_prompt_stops_it(world: World) -> None:
    world.answer_with(GATHER, msg="one two three four five six", timeout=5,
                      notify_url=world.url("gather"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.advance(2.0)
    world.sim.press(session, "4")
    call = world.sim.get_call(session)
    assert call["state"] == "collecting" and call["prompt_log"][0]["cut"] is True
    world.sim.advance(5.0)
    assert at(world, session, "gather") == 7.0


# --------------------------------------------------------------------------- the wait

def test_the_wait_after_a_notification(make_world: Any) -> None:
    w = make_world(timing=SLOW, wait=60.0)
    w.answer_with(PLAY, msg="hi", notify_url=w.url("play"), tag="p")
    session = w.sim.call(CALLER, NUMBER)
    w.sim.advance(1.0 + 59.9)
    assert not w.app.named("play", "ended")
    w.sim.advance(0.1)
    (ended,) = w.app.named("play", "ended")
    assert ended["ivr_block"] == "play" and ended["tag"] == "p"
    assert ended["duration"] == "2" and ended["debit"] == "0.040"   # 61 s answered
    assert w.sim.get_call(session)["end_reason"].startswith("no block came")


def test_an_unanswered_incoming_call_is_dropped_after_the_wait(make_world: Any) -> None:
    w = make_world(wait=5.0)
    session = w.sim.call(CALLER, NUMBER)
    w.sim.settle(session)
    ring, ended = w.app.named("answer")
    assert ended["call_state"] == "ended" and ended["ivr_block"] == "answer"
    assert ended["duration"] == "0" and ended["debit"] == "0.000"
    assert w.sim.clock.now() == 5.0


# --------------------------------------------------------------------------- hold

def test_hold_pauses_the_wait_and_refuses_blocks(world: World) -> None:
    replies: list[str] = []

    def answer(note: Note) -> None:
        for endpoint, params in [(HOLD, {"msg": "please hold"}), (PLAY, {}),
                                 (GATHER, {"notify_url": world.url("g")}), (HOLD, {}),
                                 (MONITOR, {"notify_url": world.url("m")})]:
            replies.append(world.reply(note, endpoint, **params)["status"])
    world.app.on("answer", answer)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    assert replies == ["success_ok"] + ["error_session_not_ready"] * 4
    world.sim.advance(1000.0)
    call = world.sim.get_call(session)
    assert call["state"] == "on_hold" and call["prompt_log"][0]["looped"] is True
    assert world.api(UNHOLD, session=session, notify_url=world.url("unhold"),
                     tag="u")["status"] == "success_ok"
    assert world.api(UNHOLD, session=session)["status"] == "error_session_not_on_hold"
    world.sim.settle(session)                           # the wait runs out after it
    note, ended = world.app.named("unhold")
    assert note["call_state"] == "ongoing" and note["tag"] == "u"
    assert at(world, session, "unhold", "ongoing") == 1000.0
    assert ended["call_state"] == "ended" and at(world, session, "unhold", "ended") == 1060.0


def test_a_hang_up_on_hold_ends_at_the_notify_url_before_the_holds(world: World) -> None:
    """Hold notifies nothing (§3), and hold is no ivr_block of §5: a Hold's notify_url is
    never where the end goes."""
    world.answer_with(PLAY, msg="one moment", notify_url=world.url("played"))
    world.on_ongoing("played", HOLD, notify_url=world.url("held"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    assert world.sim.get_call(session)["state"] == "on_hold"
    world.sim.hangup(session)
    assert world.app.named("held") == []
    ended = world.app.named("played")[-1]
    assert ended["call_state"] == "ended" and ended["ivr_block"] == "play"


def test_hold_without_msg_is_music(world: World) -> None:
    world.answer_with(HOLD)
    session = world.sim.call(CALLER, NUMBER)
    call = world.sim.get_call(session)
    assert call["prompts"] == [] and call["prompt_log"][0]["music"] is True


# --------------------------------------------------------------------------- transfer

@pytest.mark.parametrize("dest,status,seconds", [(BUSY, "busy", 2.0), (FAILED, "failed", 1.0),
                                                 (UNANSWERED, "unanswered", 30.0)])
def test_transfer_failure_with_continue(world: World, dest: str, status: str,
                                        seconds: float) -> None:
    world.answer_with(TRANSFER, dest=dest, msg="connecting", on_failure="continue",
                      notify_url=world.url("xfer"), tag="sales")
    world.on_ongoing("xfer", PLAY, msg="sorry", notify_url=world.url("play"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)                           # through the wait: the call ends
    (xfer,) = world.app.named("xfer")
    assert xfer.form["call_state"] == "ongoing" and xfer["transfer_status"] == status
    assert xfer["tag"] == "sales"
    assert at(world, session, "transfer") == 1.0 + seconds
    call = world.sim.get_call(session)
    assert call["prompts"] == ["connecting", "sorry"]
    assert call["transfers"] == [{"dest": dest, "room": None, "on_failure": "continue",
                                  "status": status}]
    assert call["transferred_to"] is None


@pytest.mark.parametrize("on_failure", [None, "hangup"])
def test_transfer_failure_hangs_up(world: World, on_failure: str | None) -> None:
    world.answer_with(TRANSFER, dest=BUSY, on_failure=on_failure, notify_url=world.url("xfer"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    (ended,) = world.app.named("xfer")
    assert ended["call_state"] == "ended" and ended["transfer_status"] == "busy"
    assert {"date", "duration", "currency", "rate", "debit"} <= set(ended.form)
    assert world.api(PLAY, session=session)["status"] == "error_session_ended"


def test_a_running_transfer_refuses_blocks(world: World) -> None:
    world.answer_with(TRANSFER, dest=UNANSWERED, on_failure="continue")
    cont = world.sim.call(CALLER, NUMBER)
    assert world.api(PLAY, session=cont)["status"] == "error_session_not_ready"
    world.answer_with(TRANSFER, dest=UNANSWERED)
    final = world.sim.call(CALLER, NUMBER)
    assert world.api(PLAY, session=final)["status"] == "error_session_ended"
    assert world.api(HANGUP, session=final)["status"] == "error_session_ended"
    assert world.api(HANGUP, session=cont)["status"] == "success_ok"  # at once, mid-ringing


def test_answered_transfer_talks_then_ends(world: World) -> None:
    world.answer_with(TRANSFER, dest=ANSWERS, msg="connecting", notify_url=world.url("xfer"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    call = world.sim.get_call(session)
    assert call["state"] == "talking" and world.sim.clock.now() == 1.0 + 4.0
    assert call["transferred_to"] == ANSWERS
    assert not world.app.named("xfer")
    world.sim.advance(20.0)                             # the party's talk_seconds
    (ended,) = world.app.named("xfer")
    assert ended["call_state"] == "ended" and ended["transfer_status"] == "answered"
    assert ended["duration"] == "1"                     # 25 s from answer
    assert world.api(PLAY, session=session)["status"] == "error_session_ended"


def test_rooms(world: World) -> None:
    world.answer_with(TRANSFER, dest="room:", notify_url=world.url("xfer"))
    first, second = world.sim.call(CALLER, NUMBER), world.sim.call("+6598765432", NUMBER)
    rooms = [world.app.named("answer")[i].replies[0]["room"] for i in (0, 1)]
    # Random, never sequential: whoever was given one room's id cannot guess another's.
    assert all(re.fullmatch(r"R-[0-9]{9,30}", room) for room in rooms)
    assert rooms[0] != rooms[1] and abs(int(rooms[0][2:]) - int(rooms[1][2:])) > 1
    world.answer_with(TRANSFER, dest="room:sales.team", notify_url=world.url("xfer"))
    third = world.sim.call(CALLER, NUMBER)
    assert world.app.named("answer")[2].replies[0] == {"status": "success_ok",
                                                       "room": "sales.team"}
    world.sim.settle()
    assert world.sim.get_call(first)["state"] == "talking"
    assert world.sim.engine.rooms == {rooms[0]: {first}, rooms[1]: {second},
                                      "sales.team": {third}}
    assert world.sim.get_call(third)["transferred_to"] == "room:sales.team"
    world.sim.advance(90.0)
    world.sim.hangup(first)
    (ended,) = world.app.named("xfer")
    assert ended["transfer_status"] == "answered" and ended["duration"] == "2"
    assert rooms[0] not in world.sim.engine.rooms


# --------------------------------------------------------------------------- hang-ups

def test_caller_hangs_up_during_gather(world: World) -> None:
    session = gather_world(world, timeout=60)
    world.sim.advance(10.0)
    world.sim.hangup(session)
    (ended,) = world.app.named("gather")
    assert ended["call_state"] == "ended" and ended["ivr_block"] == "gather"
    assert ended["duration"] == "1" and "digits" not in ended.form
    world.sim.hangup(session)                           # hanging up again changes nothing
    assert len(world.app.named("gather")) == 1
    with pytest.raises(SimulatorError, match="has ended"):
        world.sim.press(session, "1")


def test_caller_hangs_up_during_record(world: World) -> None:
    world.answer_with(RECORD, msg="speak now", notify_url=world.url("record"))
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    world.sim.speak(session, 3.0)
    world.sim.settle(session)                           # lets the caller finish speaking
    assert world.sim.clock.now() == 5.0
    world.sim.advance(1.0)
    world.sim.hangup(session)
    (ended,) = world.app.named("record")
    assert ended["call_state"] == "ended" and ended["record_url"].endswith(".wav")
    (rec,) = world.sim.get_call(session)["recordings"]
    assert rec["kind"] == "record" and rec["duration"] == 4.0 and rec["spoken"] == 3.0


def test_a_block_while_another_runs_and_hangup_mid_block(world: World) -> None:
    replies: list[str] = []

    def answer(note: Note) -> None:
        replies.append(world.reply(note, PLAY, msg="a long message", notify_url=world.url("p"))
                       ["status"])
        replies.append(world.reply(note, GATHER, notify_url=world.url("g"))["status"])
        replies.append(world.reply(note, HANGUP, msg="never heard",
                                   notify_url=world.url("bye"))["status"])
        replies.append(world.reply(note, HANGUP)["status"])
    world.app.on("answer", answer)
    session = world.sim.call(CALLER, NUMBER)
    assert replies == ["success_ok", "error_session_not_ready", "success_ok",
                       "error_session_ended"]
    (bye,) = world.app.named("bye")
    assert bye["call_state"] == "ended" and bye["ivr_block"] == "hangup"
    call = world.sim.get_call(session)
    assert call["prompts"] == ["a long message"] and call["prompt_log"][0]["cut"] is True
    assert call["ended_at"] == 0.0 and not world.app.named("p")


def test_hangup_plays_its_message_when_the_call_is_ready(world: World) -> None:
    world.answer_with(PLAY, msg="hello", notify_url=world.url("play"))
    world.on_ongoing("play", HANGUP, msg="good bye", notify_url=world.url("bye"), tag="end")
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    (bye,) = world.app.named("bye")
    assert bye["tag"] == "end" and at(world, session, "hangup") == 3.0
    assert world.sim.get_call(session)["prompts"] == ["hello", "good bye"]


def test_forced_hangup_rejects_a_ringing_call(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)
    assert world.api(HANGUP, session=session, msg="unheard", force="enabled",
                     notify_url=world.url("bye"))["status"] == "success_ok"
    world.sim.settle(session)
    (bye,) = world.app.named("bye")
    assert bye["duration"] == "0" and world.sim.get_call(session)["prompts"] == []


# --------------------------------------------------------------------------- monitor

def test_monitor_records_the_rest_of_the_call(world: World) -> None:
    replies: list[str] = []

    def monitoring(note: Note) -> None:
        if note["call_state"] == "ongoing":
            replies.append(world.reply(note, MONITOR, notify_url=world.url("m2"))["status"])
            replies.append(world.reply(note, HOLD)["status"])
    world.answer_with(MONITOR, msg="this call is recorded", notify_url=world.url("mon"),
                      tag="m")
    world.app.on("mon", monitoring)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    assert replies == ["error_monitor_in_progress", "success_ok"]
    world.sim.speak(session, 2.0)
    world.sim.advance(10.0)
    world.sim.hangup(session)
    ongoing, ended = world.app.named("mon")
    assert ongoing["ivr_block"] == "monitor" and ongoing["tag"] == "m"
    assert at(world, session, "monitor", "ongoing") == 4.0
    assert ended["call_state"] == "ended" and ended["record_url"]
    (rec,) = world.sim.get_call(session)["recordings"]
    assert rec["kind"] == "monitor" and rec["duration"] == 10.0 and rec["spoken"] == 2.0


def test_monitor_recording_goes_to_monitor_notify_url(world: World) -> None:
    world.answer_with(MONITOR, notify_url=world.url("mon"), monitor_notify_url=world.url("rec"))
    world.on_ongoing("mon", GATHER, notify_url=world.url("gather"), timeout=60)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    world.sim.advance(5.0)
    world.sim.hangup(session)
    (ended,) = world.app.named("gather")
    assert "record_url" not in ended.form
    (rec,) = world.app.named("rec")
    assert rec["call_state"] == "ended" and rec["ivr_block"] == "monitor"
    assert rec["record_url"] and rec["debit"] == ended["debit"]


# --------------------------------------------------------------------------- dial

def test_dial_answered(world: World) -> None:
    world.on_ongoing("dial", HANGUP, notify_url=world.url("bye"))
    reply = world.api(DIAL, dest=ANSWERS, msg="hello there", caller_id=NUMBER, tag="out",
                      notify_url=world.url("dial"))
    assert list(reply) == ["status", "txn_ref", "session"]
    session = reply["session"]
    world.sim.settle(session)
    (dial,) = world.app.named("dial")
    assert dial.form == {"call_state": "ongoing", "ivr_block": "dial", "session": session,
                         "txn_ref": reply["txn_ref"], "tag": "out", "dest": ANSWERS,
                         "dial_status": "answered"}
    assert at(world, session, "dial") == 4.0 + 2.0     # rings, then the msg
    (bye,) = world.app.named("bye")
    assert bye["dest"] == ANSWERS and bye["duration"] == "1"
    assert world.sim.get_call(session)["prompts"] == ["hello there"]


@pytest.mark.parametrize("dest,status,seconds", [(BUSY, "busy", 2.0), (FAILED, "failed", 1.0),
                                                 (UNANSWERED, "unanswered", 30.0)])
def test_dial_not_answered(world: World, dest: str, status: str, seconds: float) -> None:
    session = world.api(DIAL, dest=dest, msg="hello", notify_url=world.url("dial"))["session"]
    world.sim.settle(session)
    (ended,) = world.app.named("dial")
    assert ended["call_state"] == "ended" and ended["dial_status"] == status
    assert ended["duration"] == "0" and ended["debit"] == "0.000"
    assert at(world, session, "dial") == seconds
    assert world.sim.get_call(session)["prompts"] == []
    query = world.api("voice/query_status", txn_ref=ended["txn_ref"])
    assert query["call_status_dest1"] == status and query["duration"] == "0"


def test_dial_max_duration(world: World) -> None:
    world.on_ongoing("dial", HOLD)
    session = world.api(DIAL, dest=ANSWERS, max_duration=90,
                        notify_url=world.url("dial"))["session"]
    world.sim.settle(session)
    world.sim.advance(89.9)
    assert not world.app.named("dial", "ended")
    world.sim.advance(0.1)
    (ended,) = world.app.named("dial", "ended")
    assert ended["dial_status"] == "answered" and ended["duration"] == "2"
    assert world.sim.get_call(session)["end_reason"] == "max_duration reached"


def test_dial_rejected_by_the_dialled_phone(world: World) -> None:
    session = world.api(DIAL, dest=ANSWERS, notify_url=world.url("dial"))["session"]
    world.sim.hangup(session)
    (ended,) = world.app.named("dial")
    assert ended["dial_status"] == "busy" and ended["duration"] == "0"


# --------------------------------------------------------------------------- billing, limits

def test_billing_rounds_up_from_answer_and_debits_the_balance(make_world: Any) -> None:
    w = make_world(timing=SLOW)
    w.sim.add_account("RICH", "rich-token", balance="10.000", rate="0.035")
    w.sim.add_number("+6560000009", w.url("rich"), app_id="RICH")
    session = w.sim.call(CALLER, "+6560000009")
    w.sim.advance(7.0)                                  # ringing is not billed
    auth = {"auth": False, "app_id": "RICH", "access_token": "rich-token"}
    assert w.api(HOLD, session=session, **auth)["status"] == "success_ok"
    w.sim.advance(120.5)
    assert w.api(HANGUP, session=session, notify_url=w.url("bye"), **auth)["status"] == \
        "success_ok"
    w.sim.settle(session)
    (bye,) = w.app.named("bye")
    assert (bye["duration"], bye["rate"], bye["debit"]) == ("3", "0.035", "0.105")
    assert bye["date"] == "2025-01-01 09:00:00"
    assert w.api("user/get_balance", **auth) == {"status": "success_ok", "currency": "SGD",
                                                 "balance": "9.895"}
    query = w.api("voice/query_status", txn_ref=bye["txn_ref"], **auth)
    assert {k: query[k] for k in ("date", "duration", "currency", "rate", "debit")} == {
        k: bye[k] for k in ("date", "duration", "currency", "rate", "debit")}
    assert w.sim.get_call(session)["billing"]["debit"] == "0.105"


@pytest.mark.parametrize("seconds,minutes", [(0.0, 0), (0.5, 1), (60.0, 1), (60.5, 2)])
def test_minutes_are_rounded_up(world: World, seconds: float, minutes: int) -> None:
    world.answer_with(HOLD)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.advance(seconds)
    world.sim.hangup(session)
    assert world.sim.get_call(session)["billing"]["duration"] == str(minutes)


def test_insufficient_credit(make_world: Any) -> None:
    w = make_world()
    w.sim.add_account("POOR", "poor-token", balance="0.010")
    w.sim.add_number("+6560000008", None, app_id="POOR")
    auth = {"auth": False, "app_id": "POOR", "access_token": "poor-token"}
    assert w.api(DIAL, dest=ANSWERS, **auth) == {"status": "error_insufficient_credit"}
    session = w.sim.call(CALLER, "+6560000008")
    assert w.api(PLAY, session=session, **auth) == {"status": "error_insufficient_credit"}
    assert w.api(HANGUP, session=session, **auth) == {"status": "success_ok"}


def test_concurrent_call_limit(make_world: Any) -> None:
    w = make_world(max_concurrent_calls=2)
    first = w.api(DIAL, dest=ANSWERS)["session"]
    w.sim.call(CALLER, NUMBER)
    assert w.api(DIAL, dest=ANSWERS) == {"status": "error_concurrent_call_limit_reached"}
    with pytest.raises(SimulatorError, match="concurrent call limit") as caught:
        w.sim.call(CALLER, NUMBER)
    assert caught.value.http_status == 409
    w.sim.hangup(first)
    assert w.api(DIAL, dest=ANSWERS)["status"] == "success_ok"


def test_stats_count_the_peak_and_the_calls_refused_over_the_limit(make_world: Any) -> None:
    w = make_world(max_concurrent_calls=2)
    stats = w.rest.get(f"{w.base}/sim/stats", timeout=10)
    assert stats.json() == {"accounts": {}}
    first = w.api(DIAL, dest=ANSWERS)["session"]
    w.api(DIAL, dest=ANSWERS)
    assert w.api(DIAL, dest=ANSWERS) == {"status": "error_concurrent_call_limit_reached"}
    with pytest.raises(SimulatorError, match="concurrent call limit"):
        w.sim.call(CALLER, NUMBER)
    w.sim.hangup(first)
    w.sim.call(CALLER, NUMBER)
    figures = w.rest.get(f"{w.base}/sim/stats", timeout=10).json()["accounts"][APP_ID]
    assert figures == {"peak_concurrent_calls": 2, "refused_over_limit": 2, "calls": 3}
    assert w.rest.delete(f"{w.base}/sim/stats", timeout=10).json() == {"accounts": {}}


def test_stats_count_requests_over_the_rate_limit(make_world: Any) -> None:
    w = make_world(rate_limit=1)
    assert w.api(DIAL, dest=ANSWERS)["status"] == "success_ok"
    assert w.api(DIAL, dest=ANSWERS) == {"status": "error_rate_limit_exceeded"}
    assert w.sim.stats()["accounts"][APP_ID]["refused_over_limit"] == 1


def test_ids_are_unguessable_and_calls_listed_oldest_first(world: World) -> None:
    ids = [world.sim.call(CALLER, NUMBER) for _ in range(3)]
    assert all(re.fullmatch(r"S[0-9]{24}", i) for i in ids) and len(set(ids)) == 3
    assert [c["session"] for c in world.sim.calls()] == ids
    txn_refs = {world.sim.get_call(i)["txn_ref"] for i in ids}
    assert all(re.fullmatch(r"AA-C-[0-9]{24}", t) for t in txn_refs) and len(txn_refs) == 3


# --------------------------------------------------------------------------- settle

def test_settle_limit(world: World) -> None:
    session = world.sim.call(CALLER, NUMBER)           # nobody answers: the 60 s wait
    with pytest.raises(SettleTimeout, match="did not come to rest within 10 s"):
        world.sim.settle(session, limit=10.0)
    world.sim.settle(session)
    assert world.sim.get_call(session)["state"] == "ended"


def test_settle_waits_for_the_caller_to_stop_speaking(world: World) -> None:
    world.answer_with(RECORD, notify_url=world.url("record"), max_duration=100)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    world.sim.speak(session, 7.5)
    world.sim.settle(session)
    assert world.sim.clock.now() == 7.5 and not world.app.named("record")


def test_settle_every_call_and_calls_listing(world: World) -> None:
    world.answer_with(GATHER, msg="menu", notify_url=world.url("g"))
    sessions = [world.sim.call(CALLER, NUMBER) for _ in range(3)]
    world.sim.settle()
    assert [c["state"] for c in world.sim.calls()] == ["collecting"] * 3
    assert [c["session"] for c in world.sim.calls()] == sessions


def test_clock_cannot_be_moved_from_a_handler(world: World) -> None:
    errors: list[str] = []

    def answer(note: Note) -> None:
        with pytest.raises(SimulatorError, match="inside a timer or a notification handler"):
            world.sim.settle(note["session"])
        errors.append("raised")
    world.app.on("answer", answer)
    world.sim.call(CALLER, NUMBER)
    assert errors == ["raised"]


def test_a_rest_call_inside_a_handler_only_starts_the_block(world: World) -> None:
    seen: list[Any] = []

    def answer(note: Note) -> None:
        world.reply(note, PLAY, msg="hello world", notify_url=world.url("play"))
        call = world.sim.get_call(note["session"])
        seen.append((call["state"], len(world.app.named("play")), world.sim.clock.now()))
    world.app.on("answer", answer)
    session = world.sim.call(CALLER, NUMBER)
    assert seen == [("playing", 0, 0.0)]
    timeline = [e["type"] for e in world.sim.get_call(session)["timeline"]]
    assert timeline[:4] == ["ringing", "notification", "request", "answered"]


def test_balance_is_decimal_exact(world: World) -> None:
    account = world.sim.directory.accounts["APP1"]
    assert account.balance == Decimal("100.000")


# --------------------------------------------------------------------------- retention

def ended_call(w: World) -> str:
    session = w.sim.call(CALLER, NUMBER)
    w.sim.settle(session)
    w.sim.hangup(session)
    return session


def test_only_the_last_ended_calls_are_kept_with_their_recordings(make_world) -> None:
    w = make_world(timing=SLOW, keep_ended_calls=2)
    w.answer_with(RECORD, msg="speak now", notify_url=w.url("record"))
    first = w.sim.call(CALLER, NUMBER)
    w.sim.settle(first)
    w.sim.speak(first, 1.0)
    w.sim.set_faults(first, duplicate=0.5)
    w.sim.hangup(first)
    call = w.sim.get_call(first)
    (recording,) = call["recordings"]
    assert w.rest.get(recording["url"]).status_code == 200
    others = [ended_call(w) for _ in range(2)]
    assert len(w.sim.calls()) == 3                 # forgotten when the next call starts
    live = w.sim.call(CALLER, NUMBER)
    assert [c["session"] for c in w.sim.calls()] == [*others, live]
    with pytest.raises(UnknownCall, match="keeps the last 2 ended calls"):
        w.sim.get_call(first)
    assert w.api("voice/query_status", txn_ref=call["txn_ref"]) == {
        "status": "error_invalid_txn_ref"}
    assert w.rest.get(recording["url"]).status_code == 404
    assert w.sim.fault_plan.of(first).duplicate == 0.0


def test_an_ended_call_with_a_notification_still_to_deliver_is_kept(make_world) -> None:
    w = make_world(timing=SLOW, keep_ended_calls=0)
    w.answer_with(GATHER, msg="menu", max_digits=1, notify_url=w.url("gather"))
    held = w.sim.call(CALLER, NUMBER)
    w.sim.settle(held)
    w.sim.set_faults(held, reorder=1.0)
    w.sim.hangup(held)                              # its "ended" is held back 5 s
    assert w.app.named("gather") == []
    ended_call(w)
    assert w.sim.get_call(held)["state"] == "ended"
    w.sim.advance(5.0)                              # delivered: now it may go
    assert [n["session"] for n in w.app.named("gather", "ended")][-1] == held
    w.sim.call(CALLER, NUMBER)
    with pytest.raises(UnknownCall):
        w.sim.get_call(held)

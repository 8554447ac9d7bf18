"""Each verb on the virtual clock: what the caller hears and when, what the app is sent.

Timings use :data:`SLOW` (one word a second, no padding, audio 3 s, a phone answers in
4 s), so a prompt of N words lasts N seconds.
"""
from __future__ import annotations

import pytest

from .conftest import (ANSWERS, BUSY, FAILED, SID, SIM_URL, UNANSWERED, TwimlWorld, twiml)


def at(world: TwimlWorld, sid: str, path: str) -> float:
    """When the app was asked for ``path`` (seconds into the call)."""
    (entry,) = [e for e in world.entries(sid, "webhook") if e["url"].endswith(path)]
    return float(entry["at"])


def test_say_play_and_pause_take_their_time_then_the_call_ends(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Say loop="2">one two</Say><Pause length="3"/>'
                                 "<Play>https://cdn.example/tune.mp3</Play>"))
    sid = world.sim.call("+6591234567", "+6560000000")
    assert world.info(sid)["state"] == "playing"
    world.sim.advance(3.9)
    assert world.info(sid)["state"] == "playing"     # 4 s of Say, then the Pause
    world.sim.advance(5.9)
    assert world.info(sid)["state"] == "playing"     # then 3 s of audio
    world.sim.advance(0.2)
    info = world.info(sid)
    assert info["state"] == "ended" and info["end_reason"] == "the TwiML ran out of verbs"
    assert info["prompts"] == ["one two", "[audio https://cdn.example/tune.mp3]"]
    assert info["prompt_log"][0]["looped"] is True and info["prompt_log"][0]["block"] == "say"
    assert info["billing"]["duration"] == "1" and info["billing"]["currency"] == "USD"
    (status,) = world.app.at("/status")
    assert status["CallStatus"] == "completed" and status["CallDuration"] == "10"


def test_gather_plays_its_prompts_as_one_and_a_key_stops_them(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather numDigits="2" action="/menu" timeout="3">'
                                 "<Say>one two three</Say><Play>https://x.example/a.mp3</Play>"
                                 "</Gather><Say>Nothing.</Say>"))
    world.app.on("/menu", twiml("<Say>Thanks.</Say>"))
    sid = world.call()
    assert world.info(sid)["state"] == "collecting"
    world.sim.press(sid, "4")                        # at 6 s, after the prompt
    assert world.info(sid)["state"] == "collecting"
    world.sim.advance(2.9)
    world.sim.press(sid, "2")                        # the timeout is also between keys
    world.sim.settle(sid)
    info = world.info(sid)
    assert info["prompts"] == ["one two three [audio https://x.example/a.mp3]", "Thanks."]
    assert world.app.at("/menu")[0]["Digits"] == "42"


def test_a_key_during_the_prompt_cuts_it(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather action="/menu"><Say>a b c d e f</Say></Gather>'))
    world.app.on("/menu", twiml("<Hangup/>"))
    sid = world.sim.call("+6591234567", "+6560000000")
    world.sim.advance(2)
    world.sim.press(sid, "7")
    assert world.info(sid)["prompt_log"][0]["cut"] is True
    world.sim.advance(4.9)
    assert not world.app.at("/menu")
    world.sim.advance(0.1)                           # 5 s without a key: submitted
    assert world.app.at("/menu")[0]["Digits"] == "7"


def test_finish_on_key_ends_the_gather_only_after_a_digit(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather action="/menu"><Say>Enter.</Say></Gather>'))
    world.app.on("/menu", twiml("<Hangup/>"))
    sid = world.call()
    world.sim.press(sid, "#")                        # alone: ignored, the timer runs on
    world.sim.advance(4)
    world.sim.press(sid, "12#3")
    world.sim.settle(sid)
    (menu,) = world.app.at("/menu")
    assert (menu["Digits"], menu["FinishedOnKey"]) == ("12", "#")
    assert world.entries(sid, "keys_ignored")[-1]["digits"] == "3"


def test_no_key_goes_on_to_the_next_verb_unless_asked_for_an_empty_result(
        world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather action="/first" timeout="2"><Say>A.</Say></Gather>'
                                 '<Gather action="/second" timeout="2" actionOnEmptyResult='
                                 '"true"><Say>B.</Say></Gather>'))
    world.app.on("/second", twiml("<Say>Empty.</Say>"))
    sid = world.call()
    world.sim.advance(10)
    world.sim.settle(sid)
    assert not world.app.at("/first")
    (second,) = world.app.at("/second")
    assert second["Digits"] == ""
    assert world.info(sid)["prompts"] == ["A.", "B.", "Empty."]


def test_a_gather_without_action_requests_its_own_document(world: TwimlWorld) -> None:
    world.app.on("/voice", lambda hit: twiml(f"<Say>{hit.form.get('Digits', 'Hello')}</Say>"
                                             '<Gather numDigits="1"/>'))
    sid = world.call()
    world.sim.press(sid, "9")
    world.sim.settle(sid)
    assert [hit.form.get("Digits") for hit in world.app.at("/voice")] == [None, "9"]
    assert world.info(sid)["prompts"] == ["Hello", "9"]


def test_record_until_a_key_trimmed_and_reported(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Say>Speak.</Say><Record action="/saved" maxLength="30" '
                                 'recordingStatusCallback="/rec-status"/>'))
    world.app.on("/saved", twiml("<Say>Saved.</Say>"))
    world.app.on("/rec-status", lambda hit: ("", 204))
    sid = world.call()
    assert world.info(sid)["state"] == "recording"
    world.sim.advance(2)
    world.sim.speak(sid, 3)
    world.sim.settle(sid)
    world.sim.press(sid, "*")
    world.sim.settle(sid)
    (saved,) = world.app.at("/saved")
    rec_sid = saved["RecordingSid"]
    assert saved["RecordingUrl"] == f"{SIM_URL}/2010-04-01/Accounts/{SID}/Recordings/{rec_sid}"
    assert saved["RecordingDuration"] == "3" and saved["Digits"] == "*"   # silence trimmed
    (status,) = world.app.at("/rec-status")
    assert status["RecordingStatus"] == "completed" and status["RecordingSid"] == rec_sid
    (recording,) = world.info(sid)["recordings"]
    assert (recording["id"], recording["duration"]) == (rec_sid, 3.0)


def test_record_ends_after_its_silence_timeout(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Record action="/saved" timeout="4" playBeep="false"/>'))
    world.app.on("/saved", twiml("<Hangup/>"))
    sid = world.call()
    world.sim.speak(sid, 2)
    world.sim.settle(sid)
    world.sim.advance(3.9)
    assert not world.app.at("/saved")
    world.sim.advance(0.1)                           # 4 s after the last word
    assert world.app.at("/saved")[0]["RecordingDuration"] == "2"
    assert not world.entries(sid, "beep")


def test_an_empty_recording_requests_no_action(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Record action="/saved" maxLength="10"/><Say>Next.</Say>'))
    sid = world.call()
    world.sim.advance(10)
    world.sim.settle(sid)
    assert not world.app.at("/saved")
    assert world.info(sid)["prompts"] == ["Next."]
    assert world.entries(sid, "recording_empty")


def test_do_not_trim_keeps_silence(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Record action="/saved" maxLength="6" trim="do-not-trim"'
                                 ' timeout="0"/>'))
    world.app.on("/saved", twiml("<Hangup/>"))
    world.call()
    world.sim.advance(6)
    assert world.app.at("/saved")[0]["RecordingDuration"] == "6"


def test_hanging_up_while_recorded_requests_the_action_with_digits_hangup(
        world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Record action="/saved"/>'))
    world.app.on("/saved", twiml("<Say>Never heard.</Say>"))
    sid = world.call()
    world.sim.speak(sid, 2)
    world.sim.settle(sid)
    world.sim.hangup(sid)
    world.sim.settle(sid)
    (saved,) = world.app.at("/saved")
    assert saved["Digits"] == "hangup" and saved["CallStatus"] == "completed"
    assert world.info(sid)["prompts"] == []
    assert world.app.at("/status")[0]["CallStatus"] == "completed"


def test_dial_connects_and_reports_the_leg_to_its_action(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml(f'<Dial action="/after" timeLimit="15">{ANSWERS}</Dial>'))
    world.app.on("/after", twiml("<Say>Bye.</Say>"))
    sid = world.call()
    info = world.info(sid)
    assert info["state"] == "talking" and info["transferred_to"] == ANSWERS
    assert world.entries(sid, "transferred")[0]["at"] == 4.0
    world.sim.advance(15)                            # the time limit, before the 20 s talk
    world.sim.settle(sid)
    (after,) = world.app.at("/after")
    assert (after["DialCallStatus"], after["DialCallDuration"]) == ("completed", "15")
    assert after["DialCallSid"].startswith("CA") and after["DialCallSid"] != sid


@pytest.mark.parametrize("number, status, seconds", [
    (BUSY, "busy", 2.0), (FAILED, "failed", 1.0), (UNANSWERED, "no-answer", 30.0)])
def test_a_dial_nobody_answers_reports_why(world: TwimlWorld, number: str, status: str,
                                           seconds: float) -> None:
    world.app.on("/voice", twiml(f'<Dial action="/after">{number}</Dial>'))
    world.app.on("/after", twiml("<Hangup/>"))
    sid = world.call()
    assert world.app.at("/after")[0]["DialCallStatus"] == status
    assert at(world, sid, "/after") == seconds
    assert world.info(sid)["transfers"][0]["status"] == status
    assert world.info(sid)["transferred_to"] is None


def test_a_dial_timeout_shorter_than_the_ring_is_no_answer(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml(f'<Dial action="/after" timeout="3">{ANSWERS}</Dial>'))
    world.app.on("/after", twiml("<Hangup/>"))
    sid = world.call()
    assert world.app.at("/after")[0]["DialCallStatus"] == "no-answer"
    assert at(world, sid, "/after") == 3.0


def test_several_numbers_ring_at_once_and_the_first_to_answer_wins(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml(f'<Dial action="/after"><Number>{BUSY}</Number>'
                                 f"<Number>{ANSWERS}</Number></Dial>"))
    world.app.on("/after", twiml("<Hangup/>"))
    sid = world.call()
    assert world.info(sid)["transferred_to"] == ANSWERS


def test_without_an_action_the_document_goes_on_after_the_dial(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml(f"<Dial>{BUSY}</Dial><Say>Nobody came.</Say>"))
    sid = world.call()
    assert world.info(sid)["prompts"] == ["Nobody came."]


def test_hang_up_on_star_ends_the_leg(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml(f'<Dial hangupOnStar="true" action="/after">{ANSWERS}</Dial>'))
    world.app.on("/after", twiml("<Say>Back.</Say>"))
    sid = world.call()
    world.sim.advance(5)
    world.sim.press(sid, "*")
    world.sim.settle(sid)
    assert world.app.at("/after")[0]["DialCallDuration"] == "5"
    assert world.info(sid)["prompts"] == ["Back."]


def test_a_manual_phone_is_answered_or_rejected_by_hand(world: TwimlWorld) -> None:
    world.sim.set_phone("+6588888888", "manual")
    world.app.on("/voice", twiml('<Dial action="/after"><Number>+6588888888</Number></Dial>'))
    world.app.on("/after", twiml("<Hangup/>"))
    first = world.call()
    assert world.info(first)["ringing_phone"] == "+6588888888"
    world.sim.answer(first)
    assert world.info(first)["transferred_to"] == "+6588888888"
    second = world.call()
    world.sim.reject(second)
    world.sim.settle(second)
    assert world.app.at("/after")[-1]["DialCallStatus"] == "busy"


def test_hangup_first_answers_the_call_and_reject_does_not(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml("<Hangup/>"))
    hung_up = world.call()
    world.app.on("/voice", twiml('<Reject reason="busy"/><Say>unreached</Say>'))
    rejected = world.call()
    world.app.on("/voice", twiml("<Reject/>"))
    refused = world.call()
    assert world.info(hung_up)["answered_at"] == 0.0
    assert world.info(rejected)["answered_at"] is None
    assert world.info(refused)["end_reason"] == "the app rejected the call (<Reject " \
                                                "reason=rejected>)"
    assert [hit["CallStatus"] for hit in world.app.at("/status")] == \
        ["completed", "busy", "no-answer"]
    assert world.info(rejected)["prompts"] == []


def test_redirect_leaves_the_rest_of_the_document(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Redirect method="GET">/other</Redirect><Say>never</Say>'))
    world.app.on("/other", twiml("<Say>Other.</Say>"))
    sid = world.call()
    assert world.app.at("/other")[0].method == "GET"
    assert world.info(sid)["prompts"] == ["Other."]


def test_the_caller_hanging_up_before_the_answer_ends_it_unanswered() -> None:
    world = TwimlWorld()
    try:
        world.sim.set_faults(delay=5)                # the app is slow to answer
        world.app.on("/voice", twiml("<Say>Too late.</Say>"))
        sid = world.sim.call("+6591234567", "+6560000000")
        world.sim.advance(2)
        world.sim.hangup(sid)
        world.sim.advance(10)
        info = world.info(sid)
        assert info["answered_at"] is None and info["prompts"] == []
        assert world.app.at("/status")[0]["CallStatus"] == "no-answer"
        (webhook,) = world.entries(sid, "webhook")
        assert webhook["ignored"] == "the call has ended"
    finally:
        world.close()


def test_the_status_callback_reports_the_end_once(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml("<Say>one two three four five six seven</Say>"))
    world.app.on("/status", lambda hit: ("nope", 500))
    sid = world.call()
    (status,) = world.app.at("/status")
    assert status["CallbackSource"] == "call-progress-events"
    assert (status["SequenceNumber"], status["CallDuration"], status["Duration"]) == \
        ("0", "7", "1")
    assert status["Timestamp"] == "Wed, 01 Jan 2025 01:00:07 +0000"
    assert status.signed_by("twilio-auth-token")
    (callback,) = world.entries(sid, "callback")
    assert callback["warning"].startswith("15003")

"""What Twilio gives bad TwiML and failing webhooks (TWIML.md §8): its error in the
timeline, the fallback URL if there is one, else its application-error message and the
end of the call. Faults injected on webhooks act as they do on notifications."""
from __future__ import annotations

import pytest
from flask import Response

from hoiivr.simulator.twiml.errors import APPLICATION_ERROR

from .conftest import APP_URL, NUMBER, TwimlWorld, twiml


def errors(world: TwimlWorld, sid: str) -> list[tuple[int | None, str]]:
    return [(e["code"], e["reason"]) for e in world.entries(sid, "twiml_error")]


def assert_application_error(world: TwimlWorld, sid: str, code: int | None) -> None:
    info = world.info(sid)
    assert info["prompts"][-1] == APPLICATION_ERROR
    assert info["state"] == "ended" and info["end_reason"].startswith("application error")
    assert [c for c, _ in errors(world, sid)] == [code]
    assert info["answered_at"] is not None           # answered to say it, and billed


@pytest.mark.parametrize("answer, code, reason", [
    (("oops", 500), 11217, "answered HTTP 500"),
    (("", 404), 11217, "answered HTTP 404"),
    (Response("<Response><Say>x</Response>", content_type="text/xml"), 12100, "not well-formed"),
    (Response("   <?xml version='1.0'?><Response/>", content_type="text/xml"), 12100,
     "not well-formed"),
    (Response("<Reply><Say>x</Say></Reply>", content_type="application/xml"), 12102,
     "<Reply>"),
    (Response('{"say": "hi"}', content_type="application/json"), 12300, "application/json"),
    (Response("", 302), 11200, "without a Location"),
    (Response("<Response>" + "<Pause/>" * 9000 + "</Response>", content_type="text/xml"),
     11750, "64 kB"),
])
def test_a_bad_answer_is_an_application_error(world: TwimlWorld, answer: object, code: int,
                                              reason: str) -> None:
    world.app.on("/voice", lambda hit: answer)
    sid = world.call()
    assert_application_error(world, sid, code)
    assert reason in errors(world, sid)[0][1]
    assert world.app.at("/status")[0]["CallStatus"] == "completed"


def test_an_app_that_cannot_be_reached_is_11205(world: TwimlWorld) -> None:
    world.sim.add_twiml_number(NUMBER, "http://nowhere.test/voice")
    sid = world.call()
    assert_application_error(world, sid, 11205)


def test_an_app_that_does_not_answer_within_15_seconds_is_11205() -> None:
    world = TwimlWorld()
    try:
        world.sim.set_faults(delay=20)
        world.app.on("/voice", twiml("<Say>Late.</Say>"))
        sid = world.sim.call("+6591234567", NUMBER)
        world.sim.advance(14.9)
        assert world.info(sid)["state"] == "waiting"
        world.sim.advance(0.1)
        assert errors(world, sid) == [(11205, f"{APP_URL}/voice did not answer within 15 s")]
        world.sim.advance(10)
        assert world.info(sid)["prompts"] == [APPLICATION_ERROR]   # the late answer unused
        (late,) = world.entries(sid, "webhook")
        assert late["reply_status"] == 200 and late["ignored"]
    finally:
        world.close()


def test_more_than_ten_http_redirects_is_11215(world: TwimlWorld) -> None:
    world.app.on("/voice", lambda hit: Response("", 301, {"Location": "/voice"}))
    sid = world.call()
    assert_application_error(world, sid, 11215)
    assert len(world.app.at("/voice")) == 11


def test_plain_text_is_read_aloud_and_audio_played_then_the_call_ends(world: TwimlWorld) -> None:
    world.app.on("/voice", lambda hit: Response("We are closed.", content_type="text/plain"))
    said = world.call()
    world.app.on("/voice", lambda hit: Response(b"RIFF", content_type="audio/wav"))
    played = world.call()
    assert world.info(said)["prompts"] == ["We are closed."]
    assert world.info(played)["prompts"] == [f"[audio {APP_URL}/voice]"]
    assert world.info(said)["state"] == world.info(played)["state"] == "ended"
    assert errors(world, said) == errors(world, played) == []


def test_plain_text_that_is_twiml_is_run(world: TwimlWorld) -> None:
    world.app.on("/voice", lambda hit: Response(twiml("<Say>Hi.</Say>"),
                                                content_type="text/plain"))
    assert world.info(world.call())["prompts"] == ["Hi."]


def test_the_fallback_url_gets_the_error_and_may_save_the_call(world: TwimlWorld) -> None:
    world.sim.add_twiml_number(NUMBER, APP_URL + "/voice", fallback_url=APP_URL + "/fallback")
    world.app.on("/voice", lambda hit: ("broken", 500))
    world.app.on("/fallback", twiml('<Gather action="/menu" numDigits="1"><Say>Backup menu.'
                                    "</Say></Gather>"))
    world.app.on("/menu", lambda hit: ("broken too", 502))
    sid = world.call()
    (fallback,) = world.app.at("/fallback")
    assert (fallback["ErrorCode"], fallback["ErrorUrl"]) == ("11217", APP_URL + "/voice")
    assert world.info(sid)["prompts"] == ["Backup menu."]
    world.sim.press(sid, "1")                        # the action fails: the fallback again
    world.sim.settle(sid)
    assert [hit["ErrorUrl"] for hit in world.app.at("/fallback")] == \
        [APP_URL + "/voice", APP_URL + "/menu"]


def test_a_failing_fallback_is_the_application_error(world: TwimlWorld) -> None:
    world.sim.add_twiml_number(NUMBER, APP_URL + "/voice", fallback_url=APP_URL + "/fallback")
    world.app.on("/voice", lambda hit: ("broken", 500))
    sid = world.call()
    assert world.info(sid)["prompts"] == [APPLICATION_ERROR]
    assert [code for code, _ in errors(world, sid)] == [11217, 11217]


def test_a_verb_outside_the_subset_is_an_application_error_when_reached(
        world: TwimlWorld) -> None:
    world.app.on("/voice", twiml("<Say>First.</Say><Enqueue>support</Enqueue><Say>x</Say>"))
    sid = world.call()
    assert world.info(sid)["prompts"] == ["First.", APPLICATION_ERROR]
    assert errors(world, sid) == [(None, "<Enqueue> is not in the TwiML subset the simulator "
                                         "runs (TWIML.md §3)")]


def test_unknown_elements_are_warnings_and_skipped(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml("<say>lower</say><Say>Upper.</Say>"))
    sid = world.call()
    assert world.info(sid)["prompts"] == ["Upper."]
    (warning,) = world.entries(sid, "twiml_warning")
    assert warning["warning"].startswith("12200: <say>")


def test_a_document_that_redirects_to_itself_forever_ends_instead_of_hanging(
        world: TwimlWorld) -> None:
    world.app.on("/voice", twiml("<Redirect>/voice</Redirect>"))
    sid = world.call()
    assert len(world.app.at("/voice")) == 200
    assert world.info(sid)["prompts"] == [APPLICATION_ERROR]
    assert "redirect to itself" in errors(world, sid)[0][1]


# -- faults ------------------------------------------------------------------------------

def test_a_duplicated_webhook_reaches_the_app_twice_and_the_call_runs_once(
        world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather action="/menu" numDigits="1"><Say>Menu.</Say>'
                                 "</Gather>"))
    world.app.on("/menu", twiml("<Say>Chosen.</Say>"))
    sid = world.call()
    world.sim.set_faults(sid, duplicate=1.0, seed=1)
    world.sim.press(sid, "1")
    world.sim.settle(sid)
    first, second = world.app.at("/menu")
    assert first.headers["I-Twilio-Idempotency-Token"] == \
        second.headers["I-Twilio-Idempotency-Token"]            # the same request, twice
    assert world.info(sid)["prompts"] == ["Menu.", "Chosen."]
    faults = world.entries(sid, "fault")
    assert [(e["fault"], e["url"]) for e in faults] == [("duplicate", APP_URL + "/menu"),
                                                        ("duplicate", APP_URL + "/status")]
    assert len(world.app.at("/status")) == 2          # callbacks are duplicated too


def test_a_dropped_webhook_is_11205_after_15_seconds(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather action="/menu" numDigits="1"><Say>Menu.</Say>'
                                 "</Gather>"))
    sid = world.call()
    world.sim.set_faults(sid, drop_notification=1.0)
    world.sim.press(sid, "1")
    world.sim.advance(15)
    world.sim.settle(sid)
    assert not world.app.at("/menu")
    assert [code for code, _ in errors(world, sid)] == [11205]
    assert world.info(sid)["prompts"][-1] == APPLICATION_ERROR

"""What docs/api.rst says a Gather and a Record do when their options are left out, and
where the two carriers differ, checked through a Phone on each."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Block, Gather, Hangup, Record
from hoiivr.testing import Phone, PhoneCall

PROMPT = "Speak."        # plays for 0.9 s


@pytest.fixture(params=["hoiio", "twilio"])
def carrier(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def seen() -> list[tuple[str, Any]]:
    """What the app's handlers were given, in order."""
    return []


def phone_for(carrier: str, first: Block, seen: list[tuple[str, Any]]) -> Phone:
    app = Flask(f"defaults_{carrier}")
    app.config["HOIIVR_CARRIER"] = carrier
    ivr = IVR(app)
    ivr.on_answer(lambda call: first)

    @ivr.on_gather("step")
    def gathered(call: Any) -> Hangup:
        seen.append(("gather", call.digits))
        return Hangup("Goodbye.")

    @ivr.on_record("step")
    def recorded(call: Any) -> Hangup:
        seen.append(("record", call.record_url))
        return Hangup("Goodbye.")

    ivr.on_hangup(lambda call: seen.append(("hangup", call.record_url)))
    return Phone(app)


@pytest.fixture
def call_with(carrier: str, seen: list[tuple[str, Any]]) -> Iterator[Any]:
    phones: list[Phone] = []

    def call(first: Block) -> PhoneCall:
        phones.append(phone_for(carrier, first, seen))
        return phones[-1].call()
    yield call
    for phone in phones:
        phone.close()


def test_a_gather_waits_15_s_once_by_default(call_with: Any, seen: list[Any]) -> None:
    call = call_with(Gather(PROMPT, name="step"))
    call.wait(14)
    assert seen == []
    call.wait(2)
    assert seen[0] == ("gather", "") and call.prompts == [PROMPT, "Goodbye."]


def test_the_timeout_starts_again_from_each_key(call_with: Any, seen: list[Any]) -> None:
    call = call_with(Gather(PROMPT, max_digits=4, timeout=5, name="step"))
    call.wait(4).press("1").wait(4).press("2").wait(4)
    assert seen == []
    call.wait(2)
    assert seen[0] == ("gather", "12")


def test_a_lone_hash_is_an_empty_answer_on_hoiio_and_ignored_on_twilio(
        call_with: Any, seen: list[Any], carrier: str) -> None:
    call = call_with(Gather(PROMPT, timeout=5, attempts=2, name="step"))
    call.press("#")
    if carrier == "hoiio":
        assert seen[0] == ("gather", "") and call.prompts == [PROMPT, "Goodbye."]
        return
    assert seen == []
    call.wait(5)
    assert call.prompts == [PROMPT, PROMPT]


def test_a_record_stops_at_120_s_by_default(call_with: Any, seen: list[Any]) -> None:
    call = call_with(Record(PROMPT, name="step"))
    call.speak(seconds=200)
    assert call.recordings[0]["duration"] == 120.0
    event, url = seen[0]
    assert event == "record" and url.endswith(call.recordings[0]["file"])


def test_hanging_up_while_recorded_gives_the_recording_to_on_hangup(
        call_with: Any, seen: list[Any]) -> None:
    call = call_with(Record(PROMPT, name="step"))
    call.speak(seconds=3).hangup()
    [(event, url)] = seen
    assert event == "hangup" and url.endswith(call.recordings[0]["file"])


def test_a_silent_recording_reaches_on_record_on_both_carriers(
        call_with: Any, seen: list[Any]) -> None:
    call = call_with(Record(PROMPT, name="step"))
    call.wait(10).press("#")
    assert [event for event, _ in seen] == ["record", "hangup"]
    assert seen[0][1].endswith(call.recordings[0]["file"])
    assert call.call_state == "ended"


def test_a_recording_ended_at_once_reaches_on_record_on_both_carriers(
        call_with: Any, seen: list[Any]) -> None:
    call = call_with(Record(PROMPT, name="step"))
    call.press("#")
    assert [event for event, _ in seen] == ["record", "hangup"]
    assert call.call_state == "ended"

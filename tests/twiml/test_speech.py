"""``<Gather input="speech">`` on the simulator's TwiML numbers: the caller's words, typed
through the control API or spoken as audio that PocketSphinx recognizes offline, reach an
app written for Twilio as ``SpeechResult`` and ``Confidence``."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.twiml.voice_response import VoiceResponse

from hoiivr.simulator import SimulatorError
from hoiivr.simulator.speech import Heard

from .conftest import SIM_URL, TwimlWorld, twiml

HINTS = "sales, support, billing"


def menu(**options: Any) -> str:
    """An app's menu as the ``twilio`` package writes it."""
    response = VoiceResponse()
    gather = response.gather(**{"input": "speech dtmf", "action": "/heard", "hints": HINTS,
                                "timeout": 5, "speech_timeout": "auto", **options})
    gather.say("Say sales or support.")
    response.say("We did not hear you.")
    return str(response)


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("these tests need espeak-ng: apt-get install espeak-ng (.ci/run does)",
                    pytrace=False)
    folder = tmp_path_factory.mktemp("said")

    def say(text: str) -> bytes:
        path = folder / f"{abs(hash(text))}.wav"
        subprocess.run([espeak, "-w", str(path), text], check=True, capture_output=True,
                       timeout=30)
        return path.read_bytes()
    yield say


def started(world: TwimlWorld, document: str) -> str:
    world.app.on("/voice", document)
    world.app.on("/heard", twiml("<Hangup/>"))
    return world.call()


def test_words_typed_reach_the_app_as_speech_result_with_full_confidence(
        world: TwimlWorld) -> None:
    sid = started(world, menu())
    reply = world.rest.post(f"{SIM_URL}/sim/calls/{sid}/speak", json={"text": "Sales, please"})
    assert reply.status_code == 200, reply.text
    world.sim.settle(sid)
    [hit] = world.app.at("/heard")
    assert (hit["SpeechResult"], hit["Confidence"]) == ("Sales, please", "1.0")
    assert "Digits" not in hit.params and hit["CallSid"] == sid
    assert hit.signed_by("twilio-auth-token")
    [heard] = world.entries(sid, "heard")
    assert (heard["text"], heard["how"], heard["confidence"]) == ("Sales, please", "text", 1.0)


def test_audio_is_recognized_offline_with_the_hints_as_a_grammar(world: TwimlWorld,
                                                                said: Any) -> None:
    sid = started(world, menu())
    reply = world.rest.post(f"{SIM_URL}/sim/calls/{sid}/speak",
                            files={"audio": ("answer.wav", said("support"), "audio/wav")})
    assert reply.status_code == 200, reply.text
    world.sim.settle(sid)
    [hit] = world.app.at("/heard")
    assert hit["SpeechResult"] == "support" and 0.9 < float(hit["Confidence"]) <= 1.0
    [speech] = world.entries(sid, "speech")
    assert (speech["text"], speech["how"], speech["audio"]) == ("support", "grammar", True)


def test_keys_still_answer_a_gather_that_takes_both(world: TwimlWorld) -> None:
    sid = started(world, menu(num_digits=1))
    world.sim.press(sid, "2")
    world.sim.settle(sid)
    [hit] = world.app.at("/heard")
    assert hit["Digits"] == "2" and "SpeechResult" not in hit.params


def test_a_speech_only_gather_takes_no_keys(world: TwimlWorld) -> None:
    sid = started(world, menu(input="speech"))
    world.sim.press(sid, "2")
    world.sim.advance(10)
    world.sim.settle(sid)
    assert world.app.at("/heard") == []
    [ignored] = world.entries(sid, "keys_ignored")
    assert "listens for words only" in ignored["reason"]
    assert world.info(sid)["prompts"][-1] == "We did not hear you."


def test_the_answer_comes_after_the_caller_finishes_and_the_speech_timeout(
        world: TwimlWorld) -> None:
    sid = started(world, menu(speech_timeout=3))
    world.sim.say(sid, "billing")                 # one word: one second at SLOW's pace
    spoken_at = world.entries(sid, "speech")[0]["at"]
    world.sim.settle(sid)
    [heard] = world.entries(sid, "heard")
    assert heard["at"] == pytest.approx(spoken_at + 1 + 3)


def test_without_a_speech_timeout_the_gather_waits_its_timeout(world: TwimlWorld) -> None:
    document = twiml('<Gather input="speech" action="/heard" timeout="4"><Say>Speak.</Say>'
                     "</Gather>")
    sid = started(world, document)
    world.sim.say(sid, "support")
    spoken_at = world.entries(sid, "speech")[0]["at"]
    world.sim.settle(sid)
    assert world.entries(sid, "heard")[0]["at"] == pytest.approx(spoken_at + 1 + 4)


def test_the_first_answer_counts(world: TwimlWorld) -> None:
    sid = started(world, menu(speech_timeout=5))
    world.sim.say(sid, "sales")
    world.sim.press(sid, "2")
    world.sim.say(sid, "support")
    world.sim.settle(sid)
    [hit] = world.app.at("/heard")
    assert hit["SpeechResult"] == "sales"
    assert [e["type"] for e in world.info(sid)["timeline"]
            if e["type"].endswith("_ignored")] == ["keys_ignored", "speech_ignored"]


def test_speech_without_words_is_no_answer(world: TwimlWorld) -> None:
    sid = started(world, menu())
    world.sim.speak(sid, seconds=2)               # talking, but no words the test gave
    world.sim.advance(10)
    world.sim.settle(sid)
    assert world.app.at("/heard") == []
    assert world.entries(sid, "speech_ignored")[0]["reason"] == "no words were recognized"


def test_a_gather_that_listens_for_keys_only_hears_no_words(world: TwimlWorld) -> None:
    sid = started(world, twiml('<Gather action="/heard" timeout="3"><Say>Press.</Say>'
                               "</Gather>"))
    world.sim.say(sid, "sales")
    world.sim.advance(10)
    world.sim.settle(sid)
    assert world.app.at("/heard") == [] and world.entries(sid, "heard") == []


def test_the_recognizer_gets_the_gather_s_hints_and_language(world: TwimlWorld,
                                                           said: Any) -> None:
    asked: list[tuple[Any, ...]] = []

    def recognize(wav: bytes, hints: Any, language: str) -> Heard:
        asked.append((hints, language))
        return Heard("billing", 0.5, "grammar", 1.0)

    world.sim.recognize = recognize
    sid = started(world, menu(language="en-GB"))
    world.sim.speak(sid, audio=said("billing"))
    world.sim.settle(sid)
    assert asked == [(("sales", "support", "billing"), "en-GB")]
    assert world.app.at("/heard")[0]["Confidence"] == "0.5"


def test_audio_in_a_language_the_recognizer_lacks_says_to_send_text(world: TwimlWorld,
                                                                    said: Any) -> None:
    sid = started(world, menu(language="fr-FR"))
    reply = world.rest.post(f"{SIM_URL}/sim/calls/{sid}/speak",
                            files={"audio": ("answer.wav", said("bonjour"), "audio/wav")})
    assert reply.status_code == 501
    assert "only an English model" in reply.json()["error"] and "text" in reply.json()["error"]


def test_audio_that_is_no_wav_is_refused_with_what_to_send(world: TwimlWorld) -> None:
    sid = started(world, menu())
    reply = world.rest.post(f"{SIM_URL}/sim/calls/{sid}/speak",
                            files={"audio": ("answer.wav", b"RIFF....WAVEnope", "audio/wav")})
    assert reply.status_code == 400 and "WAV" in reply.json()["error"]


@pytest.mark.parametrize("body, words", [
    ({"text": ""}, "'text' is missing"),
    ({"text": "x" * 1001}, "1 to 1000 characters"),
    ({"text": ["sales"]}, "must be text"),
])
def test_bad_words_are_refused(world: TwimlWorld, body: dict[str, Any], words: str) -> None:
    sid = started(world, menu())
    reply = world.rest.post(f"{SIM_URL}/sim/calls/{sid}/speak", json=body)
    assert reply.status_code == 400 and words in reply.json()["error"]


def test_text_and_audio_at_once_are_refused(world: TwimlWorld, said: Any) -> None:
    sid = started(world, menu())
    reply = world.rest.post(f"{SIM_URL}/sim/calls/{sid}/speak", data={"text": "sales"},
                            files={"audio": ("a.wav", said("sales"), "audio/wav")})
    assert reply.status_code == 400 and "not both" in reply.json()["error"]


def test_words_to_an_ended_call_are_refused(world: TwimlWorld) -> None:
    sid = started(world, twiml("<Hangup/>"))
    with pytest.raises(SimulatorError, match="has ended"):
        world.sim.say(sid, "sales")


@pytest.mark.parametrize("attrs, code", [
    ('hints="' + "x" * 101 + ', sales"', "13330"),
    ('language="english please"', "13331"),
    ('speechTimeout="soon"', "13327"),
])
def test_bad_speech_attributes_are_warnings_with_twilio_s_codes(world: TwimlWorld, attrs: str,
                                                                code: str) -> None:
    sid = started(world, twiml(f'<Gather input="speech" action="/heard" {attrs}>'
                               "<Say>Speak.</Say></Gather>"))
    warnings = [e for e in world.info(sid)["timeline"] if e["type"] == "twiml_warning"]
    assert any(w["warning"].startswith(code) for w in warnings), warnings
    world.sim.say(sid, "sales")
    world.sim.advance(10)
    world.sim.settle(sid)
    assert world.app.at("/heard")[0]["SpeechResult"] == "sales"

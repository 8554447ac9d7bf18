"""Speech input and voices on each carrier: TwiML's ``<Gather input hints language>`` and
``<Say voice language>`` on Twilio, ``<speech language gender>`` markup on Hoiio, each
checked against the carrier's own lists; a webhook's ``SpeechResult`` and ``Confidence``."""
from __future__ import annotations

import importlib
import sys
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Ask, BlockError, Gather, Hangup, Play
from hoiivr.carriers.hoiio import HoiioCarrier
from hoiivr.carriers.hoiio.carrier import spoken
from hoiivr.carriers.twilio import TwilioCarrier, parse_webhook
from hoiivr.carriers.twilio import twiml, voices
from hoiivr.errors import CallFlowError, ConfigError, NotificationError
from hoiivr.flow import pack, unpack
from hoiivr.protocol import LANGUAGES

NOTIFY = "https://ivr.example/twilio/notify/t"


def document(*blocks: Any) -> ElementTree.Element:
    return ElementTree.fromstring(twiml.render(list(blocks), NOTIFY, False))


def test_a_speech_gather_is_twiml_with_its_input_hints_language_and_timeout() -> None:
    root = document(Gather("Say sales or support.", input="dtmf speech", max_digits=1,
                           hints=["sales", "support team"], language="en-GB"))
    gather = root.find("Gather")
    assert gather is not None
    assert {k: gather.get(k) for k in ("input", "hints", "language", "speechTimeout")} == \
        {"input": "dtmf speech", "hints": "sales, support team", "language": "en-GB",
         "speechTimeout": "auto"}
    say = gather.find("Say")
    assert say is not None and say.attrib == {"voice": "woman", "language": "en-GB"}


def test_a_keys_gather_asks_for_no_speech() -> None:
    gather = document(Gather("Press 1.", max_digits=1)).find("Gather")
    assert gather is not None and "input" not in gather.attrib and "hints" not in gather.attrib


@pytest.mark.parametrize("options, attrib", [
    ({"voice": "Polly.Joanna"}, {"voice": "Polly.Joanna"}),
    ({"voice": "Polly.Amy-Neural", "language": "en-GB"}, {"voice": "Polly.Amy-Neural"}),
    ({"voice": "male", "language": "fr"}, {"voice": "man", "language": "fr"}),
    ({"voice": "male", "language": "ja-JP"}, {"voice": "alice", "language": "ja-JP"}),
    ({"voice": "alice", "language": "pt-BR"}, {"voice": "alice", "language": "pt-BR"}),
    ({"voice": "Google.en-US-Standard-C"}, {"voice": "Google.en-US-Standard-C"}),
    ({}, {"voice": "woman"}),
])
def test_a_prompt_s_voice_and_language_are_say_attributes(options: dict[str, str],
                                                          attrib: dict[str, str]) -> None:
    say = document(Play("Hello.", **options)).find("Say")
    assert say is not None and say.attrib == attrib and say.text == "Hello."


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("gender", ["male", "female"])
def test_every_hoiio_language_is_said_by_a_voice_twilio_has(language: str,
                                                           gender: str) -> None:
    """Hoiio's ``ja`` is Twilio's ``ja-JP``; no voice it lacks is ever sent (TWIML.md: an
    invalid voice and language combination fails the ``<Say>``)."""
    marked = f"Hi. <speech language='{language}' gender='{gender}'>Words.</speech>"
    for block in (Play(marked), Play("Words.", language=language, voice=gender)):
        say = document(block).findall("Say")[-1]
        voice, said = say.get("voice", ""), say.get("language") or "en-US"
        assert voices.say_problem(voice, said) is None, say.attrib
        assert voices.speaks(voice, said), say.attrib
        assert said.lower().startswith(language.lower()[:2])
        assert TwilioCarrier.refuses(Play, {"language": language, "voice": gender}) == []


def test_speech_markup_in_the_msg_keeps_its_own_language_and_gender() -> None:
    root = document(Play('Hello. <speech language="zh-CN" gender="male">Ni hao</speech>',
                         voice="Polly.Joanna"))
    assert [say.attrib for say in root.iter("Say")] == [
        {"voice": "Polly.Joanna"}, {"voice": "alice", "language": "zh-CN"}]


@pytest.mark.parametrize("block, words", [
    (Play("Hi.", voice="Polly.Nobody"), "Twilio has no voice 'Polly.Nobody'"),
    (Play("Hi.", voice="Polly.Ivy-Neural", language="fr-FR"),
     "voice 'Polly.Ivy-Neural' does not speak 'fr-FR'; it speaks en-US"),
    (Play("Hi.", language="xx-YY"), "Twilio's voices do not speak 'xx-YY'"),
    (Gather("Hi.", input="speech", language="tlh-KL"),
     "Twilio does not recognize speech in language='tlh-KL'"),
])
def test_twilio_refuses_voices_and_languages_it_lacks(block: Any, words: str) -> None:
    carrier = TwilioCarrier.__new__(TwilioCarrier)
    with pytest.raises(CallFlowError) as error:
        carrier.check([block], "menu")
    assert str(error.value).startswith(f"handler menu returned {type(block).__name__}: ")
    assert words in str(error.value)


def test_a_gather_without_a_prompt_may_hear_a_language_no_voice_speaks() -> None:
    carrier = TwilioCarrier.__new__(TwilioCarrier)
    carrier.check([Gather(input="speech", language="cmn-Hans-CN")], "menu")
    gather = document(Gather(input="speech", language="cmn-Hans-CN")).find("Gather")
    assert gather is not None and gather.get("language") == "cmn-Hans-CN"


def test_on_hoiio_a_voice_and_language_are_speech_markup() -> None:
    block = spoken(Play("Hello &amp; welcome. <url>https://a.example/x.mp3</url>",
                        language="zh-CN", voice="male"))
    assert block.to_params()["msg"] == (
        '<speech language="zh-CN" gender="male">Hello &amp; welcome. </speech>'
        "<url>https://a.example/x.mp3</url>")
    assert spoken(Play("Hi.")) == Play("Hi.")


@pytest.mark.parametrize("block, words", [
    (Play("Hi.", voice="Polly.Joanna"), "Hoiio has no voice 'Polly.Joanna'"),
    (Play("Hi.", language="fr-FR"), "Hoiio's voices do not speak language='fr-FR'"),
    (Gather("Say sales.", input="dtmf speech", hints=["sales"]),
     "speech input needs the Twilio carrier (HOIIVR_CARRIER=twilio)"),
])
def test_hoiio_refuses_what_it_lacks_when_a_handler_returns_it(block: Any, words: str) -> None:
    carrier = HoiioCarrier.__new__(HoiioCarrier)
    with pytest.raises(CallFlowError) as error:
        carrier.check([block], "menu")
    assert words in str(error.value)


def test_on_hoiio_markup_that_makes_the_msg_too_long_is_refused() -> None:
    carrier = HoiioCarrier.__new__(HoiioCarrier)
    with pytest.raises(BlockError, match="at most 1000 characters"):
        carrier.check([Play("a" * 990, voice="female")], "menu")


def speech_app(carrier: str) -> tuple[Flask, IVR]:
    app = Flask("speech_app")
    app.config.update(HOIIVR_CARRIER=carrier, SECRET_KEY="secret", HOIIO_APP_ID="app",
                      HOIIO_ACCESS_TOKEN="token", TWILIO_ACCOUNT_SID="AC" + "0" * 32,
                      TWILIO_AUTH_TOKEN="token")
    ivr = IVR(app)

    def question() -> Ask:
        return Ask("Say sales or support.", name="menu", input="dtmf speech",
                   hints=["sales", "support"], valid={"sales": ["1"], "support": ["2"]})

    @ivr.on_answer
    def answer(call: Any) -> Any:
        return [Play("Welcome.", voice="female"), question()]

    @ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        return Hangup(f"You chose {call.answer}.")

    return app, ivr


def test_on_hoiio_an_app_that_asks_for_speech_is_refused_when_it_starts() -> None:
    app, ivr = speech_app("hoiio")
    with pytest.raises(ConfigError) as error:
        ivr.runtime(app)
    message = str(error.value)
    for words in ("asks for what the hoiio carrier cannot do", "Ask at ",
                  "in question(), called by handler answer()", "input='dtmf speech'",
                  "speech input needs the Twilio carrier (HOIIVR_CARRIER=twilio)"):
        assert words in message, words


def test_on_twilio_the_same_app_starts() -> None:
    app, ivr = speech_app("twilio")
    ivr.runtime(app)


def test_a_speech_result_and_its_confidence_reach_the_notification() -> None:
    fields = {"CallSid": "CA1", "CallStatus": "in-progress", "SpeechResult": "Sales please.",
              "Confidence": "0.91"}
    notification = parse_webhook(fields)
    assert (notification.speech, notification.confidence, notification.digits) == \
        ("Sales please.", 0.91, None)
    assert "speech='Sales please.' confidence=0.91" in notification.describe("gather")


@pytest.mark.parametrize("confidence", ["high", "1.5", "-0.1", "nan", "inf"])
def test_a_confidence_that_is_no_probability_is_refused(confidence: str) -> None:
    with pytest.raises(NotificationError, match="Confidence="):
        parse_webhook({"CallSid": "CA1", "CallStatus": "in-progress",
                       "SpeechResult": "sales", "Confidence": confidence})


def test_a_queued_block_keeps_its_voice_and_speech_input() -> None:
    gather = Gather("Say sales.", input="dtmf speech", hints=["sales", "support"],
                    speech_timeout=3, language="en-AU", voice="Polly.Nicole", name="menu")
    [item] = pack([gather])
    assert unpack(item) == gather
    assert "options" not in pack([Play("Hi.")])[0]


@pytest.mark.parametrize("length, starts", [(243, False), (242, True)])
def test_on_hoiio_a_constant_tag_too_long_to_bind_the_step_stops_the_app_at_start(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, length: int, starts: bool) -> None:
    """Hoiio takes 256 characters; hoiivr adds 14: found at start-up, not mid-call."""
    name = f"long_tag_app_{length}"
    (tmp_path / f"{name}.py").write_text(
        "from flask import Flask\nfrom hoiivr import IVR, Gather\n"
        f"app = Flask({name!r})\n"
        "app.config.update(SECRET_KEY='s', HOIIO_APP_ID='a', HOIIO_ACCESS_TOKEN='t')\n"
        "ivr = IVR(app)\n\n\n@ivr.on_answer\ndef answer(call):\n"
        f"    return Gather('Press 1.', max_digits=1, tag={'t' * length!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    monkeypatch.delitem(sys.modules, name)
    if starts:
        module.ivr.runtime(module.app)
        return
    with pytest.raises(ConfigError, match="hoiivr adds 14 to bind the step, so a tag may "
                                          "have 242"):
        module.ivr.runtime(module.app)

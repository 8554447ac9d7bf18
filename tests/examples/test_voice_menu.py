"""The voice menu: callers say sales or support, or press 1 or 2. On Twilio it is tested by
words typed, by keys, and by real audio (espeak-ng speaks the words; PocketSphinx hears
them offline). On Hoiio, which has no speech input, it is refused when it starts."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from hoiivr.cli.routes import routes_command
from hoiivr.errors import ConfigError
from hoiivr.testing import Phone

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "voice_menu.py"
SALES, SUPPORT = "+6522222222", "+6533333333"


@pytest.fixture(params=["twilio"], autouse=True)
def carrier(request, monkeypatch):
    """Speech is Twilio's: the calls run there; Hoiio's refusal has its own tests below."""
    monkeypatch.setenv("HOIIVR_CARRIER", request.param)
    return request.param


@pytest.fixture
def example(load_example):
    return load_example("voice_menu")


@pytest.fixture
def app(example):
    return example.app


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> dict[str, bytes]:
    """espeak-ng's WAV of each answer, as a caller's phone would send it."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("this test needs espeak-ng: apt-get install espeak-ng (.ci/run does)",
                    pytrace=False)
    folder, made = tmp_path_factory.mktemp("voice_menu"), {}
    for words in ("sales", "support"):
        path = folder / f"{words}.wav"
        subprocess.run([espeak, "-v", "en-us", "-w", str(path), words], check=True,
                       capture_output=True, timeout=30)
        made[words] = path.read_bytes()
    return made


def test_the_menu_listens_for_keys_and_words(phone):
    call = phone.call()
    assert call.prompts == ["Welcome to Acme.", "Say sales or support, or press 1 or 2."]
    kind, gather = call.blocks[-1]
    assert kind == "gather" and gather["input"] == "dtmf speech"
    assert list(gather["hints"]) == ["sales", "support"] and gather["speech_timeout"] == "auto"


@pytest.mark.parametrize("words, team, number", [
    ("sales", "sales", SALES), ("Support, please.", "support", SUPPORT),
    ("I need technical support", "support", SUPPORT), ("help", "support", SUPPORT),
])
def test_saying_a_team_puts_the_caller_through(phone, example, words, team, number):
    call = phone.call()
    call.say(words)
    assert call.transferred_to == number
    assert example.choices == [{"answer": team, "digits": None, "speech": words,
                                "confidence": 1.0}]


@pytest.mark.parametrize("key, team, number", [("1", "sales", SALES), ("2", "support", SUPPORT)])
def test_pressing_a_key_puts_the_caller_through(phone, example, key, team, number):
    call = phone.call()
    call.press(key)
    assert call.transferred_to == number
    assert example.choices == [{"answer": team, "digits": key, "speech": None,
                                "confidence": None}]


@pytest.mark.parametrize("words, number", [("sales", SALES), ("support", SUPPORT)])
def test_real_audio_is_recognized_offline(phone, example, spoken, words, number):
    call = phone.call()
    call.speak(audio=spoken[words])
    assert call.transferred_to == number
    [choice] = example.choices
    assert (choice["answer"], choice["speech"], choice["digits"]) == (words, words, None)
    assert 0.9 < choice["confidence"] <= 1.0
    [speech] = [e for e in call.info["timeline"] if e["type"] == "speech"]
    assert (speech["how"], speech["audio"]) == ("grammar", True)


def test_words_that_are_no_team_are_asked_again(phone, example):
    call = phone.call()
    call.say("billing")
    assert call.last_prompt == ("Sorry, I did not catch that. Say sales or support, or press 1 "
                                "or 2.")
    call.wait(10)
    assert call.last_prompt.startswith("Sorry, I did not hear you.")
    call.say("sales")
    assert call.transferred_to == SALES and len(example.choices) == 1


def test_a_busy_team_ends_the_call_politely(phone):
    phone.set_behaviour(SUPPORT, "busy")
    call = phone.call()
    call.say("support")
    assert call.last_prompt.startswith("Everyone is busy right now.")
    assert call.call_state == "ended"


def test_on_hoiio_the_app_is_refused_when_it_starts(monkeypatch, load_example):
    monkeypatch.setenv("HOIIVR_CARRIER", "hoiio")
    app = load_example("voice_menu").app
    with pytest.raises(ConfigError) as refused:
        Phone(app)
    message = str(refused.value)
    assert "asks for what the hoiio carrier cannot do" in message
    assert "Ask at hoiivr_example_voice_menu:" in message
    assert "in menu(), called by handler answer()" in message
    assert "speech input needs the Twilio carrier (HOIIVR_CARRIER=twilio)" in message


def test_on_hoiio_hoiivr_routes_lists_the_speech_input(monkeypatch):
    monkeypatch.setenv("HOIIVR_CARRIER", "hoiio")
    result = CliRunner().invoke(routes_command, [str(EXAMPLE)])
    assert result.exit_code == 1, result.output
    assert "in menu(), called by handler answer(): input='dtmf speech'" in result.output
    monkeypatch.setenv("HOIIVR_CARRIER", "twilio")
    result = CliRunner().invoke(routes_command, [str(EXAMPLE)])
    assert result.exit_code == 0, result.output

"""The offline recognizer hears espeak-ng's voice: with hints as a grammar, in dictation
without, from WAV files of any common format, from several threads at once."""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import threading
import wave
from pathlib import Path
from typing import Callable

import pytest

from hoiivr.simulator.errors import SimulatorError
from hoiivr.simulator.speech import BadAudio, Heard, Recognizer, SpeechUnavailable, recognize

HINTS = ["sales", "support", "billing", "one two three", "operator"]
Say = Callable[..., bytes]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"these tests need {name}: apt-get install {name} (.ci/run installs it)",
                    pytrace=False)
    return path


@pytest.fixture(scope="module")
def say(tmp_path_factory: pytest.TempPathFactory) -> Say:
    """``say(text, voice, speed)``: espeak-ng's WAV (22050 Hz mono 16-bit) of ``text``."""
    espeak, folder = _tool("espeak-ng"), tmp_path_factory.mktemp("said")
    made: dict[tuple[str, str, int], bytes] = {}

    def say(text: str, voice: str = "en-us", speed: int = 175) -> bytes:
        if (text, voice, speed) not in made:
            path = folder / f"{len(made)}.wav"
            subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(path), text],
                           check=True, capture_output=True, timeout=30)
            made[text, voice, speed] = path.read_bytes()
        return made[text, voice, speed]

    return say


def sox(wav: bytes, tmp_path: Path, *options: str) -> bytes:
    """``wav`` converted by sox with ``options`` (rate, channels, encoding)."""
    source, target = tmp_path / "in.wav", tmp_path / "out.wav"
    source.write_bytes(wav)
    subprocess.run([_tool("sox"), str(source), *options, str(target)], check=True,
                   capture_output=True, timeout=30)
    return target.read_bytes()


def pcm16(samples: list[int], rate: int, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return out.getvalue()


def left_only(wav: bytes) -> bytes:
    """``wav`` (mono) as stereo with the speech on the left and silence on the right."""
    with wave.open(io.BytesIO(wav)) as mono:
        rate, frames = mono.getframerate(), mono.readframes(mono.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    return pcm16([v for s in samples for v in (s, 0)], rate, channels=2)


@pytest.mark.parametrize("phrase", ["sales", "support", "billing", "one two three"])
def test_hints_are_a_grammar_the_caller_is_heard_in(say: Say, phrase: str) -> None:
    heard = recognize(say(phrase), HINTS)
    assert (heard.text, heard.how, heard.left_out) == (phrase, "grammar", ())
    assert 0.9 < heard.confidence <= 1.0
    with wave.open(io.BytesIO(say(phrase))) as wav:
        assert heard.seconds == pytest.approx(wav.getnframes() / wav.getframerate())


@pytest.mark.parametrize("voice, speed", [("en-gb", 140), ("en-us", 140), ("en-gb", 175)])
def test_other_voices_and_speeds(say: Say, voice: str, speed: int) -> None:
    heard = recognize(say("operator", voice, speed), HINTS)
    assert (heard.text, heard.how) == ("operator", "grammar")


def test_hints_may_be_twimls_comma_separated_attribute(say: Say) -> None:
    assert recognize(say("billing"), " Sales,Support , BILLING,").text == "billing"


@pytest.mark.parametrize("phrase", ["sales", "support", "billing", "one two three"])
def test_dictation_without_hints_is_less_sure(say: Say, phrase: str) -> None:
    grammar, dictation = recognize(say(phrase), HINTS), recognize(say(phrase))
    assert dictation.how == "dictation" and dictation.text
    assert 0.0 <= dictation.confidence < grammar.confidence


@pytest.mark.parametrize("said", ["cancel", "good morning"])
def test_speech_no_hint_fits_is_dictated(say: Say, said: str) -> None:
    # "good morning" fits only a part of "one two three": no answer, not "one two".
    heard = recognize(say(said), HINTS)
    assert heard.how == "dictation" and heard.text not in HINTS
    assert heard.confidence < 0.9


def test_silence_is_heard_as_nothing() -> None:
    heard = recognize(pcm16([0] * 16000, 16000), HINTS)
    assert heard == Heard("", 0.0, "dictation", 1.0)


def test_hints_with_words_the_model_cannot_say_are_left_out(say: Say) -> None:
    # "²" is a digit to str.isdigit, but no digit the model says.
    heard = recognize(say("support"), ["sales", "xyzzyq plugh", "support", "naïveté",
                                       "level ²"])
    assert (heard.text, heard.how) == ("support", "grammar")
    assert heard.left_out == ("xyzzyq plugh", "naïveté", "level ²")
    alone = recognize(say("support"), ["xyzzyq"])
    assert alone.how == "dictation" and alone.left_out == ("xyzzyq",)


def test_numbers_in_hints_are_said_digit_by_digit(say: Say) -> None:
    heard = recognize(say("one two three"), ["123", "456", "operator"])
    assert (heard.text, heard.how) == ("one two three", "grammar")


@pytest.mark.parametrize("options", [
    ["-r", "8000"],                                         # telephone audio
    ["-r", "44100", "-c", "2", "-b", "24"],                 # WAVE_FORMAT_EXTENSIBLE
    ["-r", "48000", "-b", "32", "-e", "signed-integer"],
    ["-e", "floating-point", "-b", "32"],
    ["-r", "11025", "-b", "8", "-e", "unsigned-integer"],
], ids=["8k", "44k-stereo-24bit", "48k-32bit", "float", "11k-8bit"])
def test_any_common_rate_channels_and_encoding(say: Say, tmp_path: Path,
                                               options: list[str]) -> None:
    heard = recognize(sox(say("support"), tmp_path, *options), HINTS)
    assert (heard.text, heard.how) == ("support", "grammar")


def test_stereo_with_the_caller_on_one_side(say: Say, tmp_path: Path) -> None:
    telephone = sox(say("billing"), tmp_path, "-r", "8000")
    assert recognize(left_only(telephone), HINTS).text == "billing"


def test_bad_audio_says_what_to_send(say: Say, tmp_path: Path) -> None:
    cases: list[tuple[bytes, int, str]] = [
        (b"", 400, "the audio is empty: send a WAV file"),
        (b"ID3\x04\x00" + bytes(200), 415, "not a WAV file (RIFF/WAVE): send a WAV file; to "
                                           "convert another format: sox answer.mp3"),
        (b"RIFF\x04\x00\x00\x00WAVE", 400, "no fmt or no data chunk"),
        (sox(say("sales"), tmp_path, "-e", "mu-law"), 415, "audio is mu-law; the recognizer "
                                                          "reads 8, 16, 24 or 32-bit PCM"),
        (pcm16([], 16000), 400, "holds no audio"),
        (pcm16([0] * 4000, 4000), 400, "send speech sampled at 8000 Hz or more"),
        (pcm16([0] * 8000 * 61, 8000), 413, "61.0 s long and the recognizer takes at most 60 s:"
                                            " send only the caller's answer"),
    ]
    for data, status, message in cases:
        with pytest.raises(BadAudio) as caught:
            recognize(data, HINTS)
        assert isinstance(caught.value, SimulatorError)
        assert caught.value.http_status == status and message in str(caught.value)


def test_without_pocketsphinx_it_says_how_to_install_it(say: Say,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)      # import fails as if missing
    with pytest.raises(SpeechUnavailable) as caught:
        Recognizer().recognize(say("sales"), HINTS)
    assert "pip install -e '.[speech]'" in str(caught.value)
    assert "hoiivr[speech]" not in str(caught.value)
    assert caught.value.http_status == 501


def test_only_english_is_recognized(say: Say) -> None:
    assert recognize(say("sales"), HINTS, language="en-GB").text == "sales"
    with pytest.raises(SpeechUnavailable, match="only an English model, not one for 'fr-FR': "
                                                "send the caller's words as text"):
        recognize(say("sales"), HINTS, language="fr-FR")


@pytest.mark.parametrize("said", ["support", "billing"])
def test_the_answer_does_not_depend_on_what_was_heard_before(say: Say, said: str) -> None:
    recognizer = Recognizer(decoders=1)
    first = recognizer.recognize(say(said))           # the decoder's first utterance
    for other in ("sales", "hello there", "one two three"):
        recognizer.recognize(say(other))
        recognizer.recognize(say(other), HINTS)
    assert recognizer.recognize(say(said)) == first


def test_evicting_a_grammar_keeps_the_others_working(say: Say) -> None:
    recognizer = Recognizer(decoders=1, grammars=2)
    for hints in (["Sales", "Billing"], ["sales", "billing"], ["operator", "billing"],
                  ["sales", "billing"], ["Sales", "Billing"]):
        assert recognizer.recognize(say("billing"), hints).text == "billing"


@pytest.fixture
def decoders_built(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every PocketSphinx decoder built while the test runs."""
    import pocketsphinx

    built: list[object] = []

    class Counted(pocketsphinx.Decoder):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pocketsphinx, "Decoder", Counted)
    return built


@pytest.mark.slow
@pytest.mark.parametrize("decoders", [1, 2])
def test_threads_recognizing_at_once_each_get_their_answer(
        say: Say, decoders: int, decoders_built: list[object]) -> None:
    recognizer = Recognizer(decoders=decoders)
    jobs = [("sales", HINTS), ("support", ["support", "operator"]), ("billing", ()),
            ("one two three", HINTS[::-1])]
    expected = {phrase: recognizer.recognize(say(phrase), hints) for phrase, hints in jobs}
    start = threading.Barrier(len(jobs))
    heard: dict[str, list[Heard]] = {phrase: [] for phrase, _ in jobs}
    failures: list[BaseException] = []

    def listen(phrase: str, hints: list[str]) -> None:
        try:
            start.wait(timeout=30)
            for _ in range(3):
                heard[phrase].append(recognizer.recognize(say(phrase), hints))
        except BaseException as exc:   # noqa: BLE001 - reported by the main thread below
            failures.append(exc)

    threads = [threading.Thread(target=listen, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and not any(thread.is_alive() for thread in threads)
    assert expected["sales"].text == "sales" and expected["billing"].how == "dictation"
    assert heard == {phrase: [expected[phrase]] * 3 for phrase, _ in jobs}
    assert 1 <= len(decoders_built) <= decoders        # the rest waited for one to be free

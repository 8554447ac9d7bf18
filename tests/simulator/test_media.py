"""Recordings are real WAV files as long as the recording; uploads are kept as given."""
from __future__ import annotations

import io
import re
import shutil
import struct
import wave

import pytest

from hoiivr.simulator.media import Recordings, Voice

from .conftest import CALLER, NUMBER, RECORD, World

HAVE_ESPEAK = shutil.which("espeak-ng") is not None


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() / wav.getframerate()


def samples(data: bytes) -> tuple[int, list[int]]:
    with wave.open(io.BytesIO(data)) as wav:
        frames = wav.readframes(wav.getnframes())
        return wav.getframerate(), list(struct.unpack(f"<{len(frames) // 2}h", frames))


def make_wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x01\x00" * round(seconds * rate))
    return out.getvalue()


def test_tone_fallback_speaks_only_while_the_caller_speaks() -> None:
    voice = Voice(detect=False)
    data = voice.render(3.0, ((1.0, 2.0),))
    rate, pcm = samples(data)
    assert rate == 8000 and len(pcm) == 24000
    assert not any(pcm[:8000]) and not any(pcm[16000:])
    assert max(pcm[8000:16000]) > 1000


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed")
def test_espeak_speech_is_cut_to_the_spoken_length() -> None:
    voice = Voice()
    rate, phrase = voice.phrase()
    assert len(phrase) > rate                          # about a second and a half of speech
    data = voice.render(2.5, ((0.0, 0.75),))
    assert wav_seconds(data) == pytest.approx(2.5, abs=1 / rate)
    rate, pcm = samples(data)
    assert not any(pcm[round(0.75 * rate):])


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed")
def test_the_tools_are_looked_for_when_first_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")                 # nothing to find while it is built
    voice = Voice()
    monkeypatch.undo()
    assert voice.espeak is None
    rate, phrase = voice.phrase()
    assert voice.espeak == shutil.which("espeak-ng") and len(phrase) > rate


def test_recordings_are_made_lazily_and_cached() -> None:
    store = Recordings(Voice(detect=False))
    rec = store.add("S1", "record", 2.0, ((0.0, 1.0),), "http://sim.test/")
    assert re.fullmatch(r"rec-[0-9]{24}", rec.id) and rec.content is None
    assert rec.url == f"http://sim.test/sim/recordings/{rec.id}.wav"
    first = store.content(rec)
    assert rec.content is first and store.content(rec) is first
    assert wav_seconds(first) == 2.0
    assert store.find(f"{rec.id}.wav") is rec and store.find("rec-2.wav") is None
    assert store.add("S1", "record", 1.0, (), "http://sim.test/").id != rec.id


def test_a_recording_downloads_as_a_wav_of_its_length(world: World) -> None:
    world.answer_with(RECORD, msg="speak", notify_url=world.url("record"), max_duration=60)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    world.sim.speak(session, 3.0)
    world.sim.settle(session)
    world.sim.advance(0.5)
    world.sim.press(session, "#")
    (note,) = world.app.named("record", "ongoing")
    res = world.rest.get(note["record_url"])
    assert res.status_code == 200 and res.headers["Content-Type"] == "audio/wav"
    assert res.content[:4] == b"RIFF" and wav_seconds(res.content) == pytest.approx(3.5, abs=1e-3)
    (rec,) = world.sim.get_call(session)["recordings"]
    assert rec["duration"] == 3.5 and rec["spoken"] == 3.0 and rec["uploaded"] is False


def test_record_until_max_duration(world: World) -> None:
    world.answer_with(RECORD, notify_url=world.url("record"), max_duration=7)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    world.sim.advance(7.0)
    (note,) = world.app.named("record", "ongoing")
    assert wav_seconds(world.rest.get(note["record_url"]).content) == 7.0


@pytest.mark.parametrize("filename,content_type,suffix", [
    ("message.wav", None, ".wav"), ("message.mp3", "audio/mpeg", ".mp3"),
    (None, None, ".wav")])
def test_an_uploaded_recording_is_kept_as_given(world: World, filename: str | None,
                                               content_type: str | None, suffix: str) -> None:
    audio = make_wav(2.0)
    world.answer_with(RECORD, notify_url=world.url("record"), max_duration=60)
    session = world.sim.call(CALLER, NUMBER)
    world.sim.settle(session)
    world.sim.speak(session, 9.0, audio=audio, filename=filename, content_type=content_type)
    world.sim.settle(session)
    assert world.sim.clock.now() == 2.0                 # a WAV's own length wins
    world.sim.press(session, "#")
    (note,) = world.app.named("record", "ongoing")
    assert note["record_url"].endswith(suffix)
    res = world.rest.get(note["record_url"])
    assert res.content == audio
    assert res.headers["Content-Type"] == (content_type or "audio/wav")


def test_unknown_recording_is_404(world: World) -> None:
    res = world.rest.get("http://hoiio.sim/sim/recordings/rec-99.wav")
    assert res.status_code == 404 and "record_url" in res.json()["error"]

"""Recordings: real, playable audio files served at their ``record_url``.

A recording made by the simulator is a WAV file as long as the recording, with speech where
the caller spoke and silence elsewhere. The speech is "This is a test message." said by
espeak-ng (resampled to 8 kHz by sox when it is installed), looped or cut to each stretch of
speaking; on a machine without espeak-ng it is a 400 Hz tone. A file the caller uploaded is
kept exactly as given. Files are made on first download and then cached, so recording costs
nothing on the call's path.
"""
from __future__ import annotations

import io
import math
import re
import secrets
import mimetypes
import shutil
import struct
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol import AUDIO_SUFFIXES
from .errors import SimulatorError

Stretch = tuple[float, float]


@dataclass(frozen=True)
class Upload:
    """An audio file the caller "spoke" (``POST /sim/calls/<s>/speak`` with ``audio``)."""

    data: bytes
    content_type: str
    filename: str | None = None

    @property
    def suffix(self) -> str:
        suffix = Path(self.filename or "").suffix.lower()
        return suffix if suffix in AUDIO_SUFFIXES else ".wav"

    def seconds(self) -> float | None:
        """The length of a WAV upload; ``None`` for other formats."""
        try:
            with wave.open(io.BytesIO(self.data)) as wav:
                return float(wav.getnframes() / wav.getframerate())
        except (wave.Error, EOFError, ZeroDivisionError):
            return None


_AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".gsm": "audio/gsm"}
_AUDIO_TYPE = re.compile(r"audio/[a-z0-9][a-z0-9.+-]{0,60}")


def upload(data: bytes, filename: str | None = None, content_type: str | None = None) -> Upload:
    """An :class:`Upload`, its content type guessed from ``filename`` when not given.

    Only audio is taken: the file is served back from the simulator's own origin, where a
    page (``text/html``) or a script would run with the right to drive every call.
    """
    suffix = Path(filename or "").suffix.lower()
    guessed = _AUDIO_TYPES.get(suffix) or mimetypes.guess_type(filename or "")[0]
    kind = (content_type or guessed or "audio/wav").split(";")[0].strip().lower()
    if not _AUDIO_TYPE.fullmatch(kind):
        raise SimulatorError(f"the uploaded file is {kind!r}, not audio: send a recording "
                             "as audio/wav (or another audio/* type), e.g. message.wav")
    return Upload(bytes(data), kind, filename)


@dataclass
class Recording:
    """One recording of a call: ``kind`` is ``record`` or ``monitor``."""

    id: str
    session: str
    kind: str
    duration: float
    speech: tuple[Stretch, ...]
    url: str
    upload: Upload | None = None
    content: bytes | None = field(default=None, repr=False)

    @property
    def filename(self) -> str:
        return self.id + (self.upload.suffix if self.upload else ".wav")

    @property
    def content_type(self) -> str:
        return self.upload.content_type if self.upload else "audio/wav"

    def to_json(self) -> dict[str, Any]:
        spoken = sum(end - start for start, end in self.speech)
        # ``file``: its name under /sim/recordings/, whatever its URL (Twilio's has none).
        return {"id": self.id, "kind": self.kind, "url": self.url, "file": self.filename,
                "duration": round(self.duration, 3), "spoken": round(spoken, 3),
                "uploaded": self.upload is not None, "content_type": self.content_type}


class Voice:
    """Makes the sound of a caller speaking, once per machine setup, then reuses it."""

    PHRASE = "This is a test message."
    RATE = 8000
    _cache: dict[tuple[str | None, str | None], tuple[int, bytes]] = {}
    _lock = threading.Lock()

    def __init__(self, espeak: str | None = None, sox: str | None = None,
                 detect: bool = True) -> None:
        self.espeak, self.sox = espeak, sox
        # The tools are looked for on PATH when first needed, not by every simulator: a
        # test suite builds one per test, and most never play a recording.
        self._detect = detect

    def phrase(self) -> tuple[int, bytes]:
        """``(sample rate, 16-bit mono PCM)`` of the phrase, or of a tone without espeak-ng."""
        with self._lock:
            if self._detect:
                self._detect = False
                self.espeak = self.espeak or shutil.which("espeak-ng")
                self.sox = self.sox or shutil.which("sox")
            key = (self.espeak, self.sox)
            if key not in self._cache:
                self._cache[key] = self._speak() or _tone(self.RATE)
            return self._cache[key]

    def _speak(self) -> tuple[int, bytes] | None:
        if not self.espeak:
            return None
        with tempfile.TemporaryDirectory(prefix="hoiivr-voice-") as tmp:
            said, phone = Path(tmp, "said.wav"), Path(tmp, "phone.wav")
            try:
                subprocess.run([self.espeak, "-w", str(said), self.PHRASE], check=True,
                               capture_output=True, timeout=20)
                if self.sox:
                    subprocess.run([self.sox, str(said), "-r", str(self.RATE), "-c", "1",
                                    "-b", "16", str(phone)], check=True, capture_output=True,
                                   timeout=20)
                return _read_pcm(phone if self.sox else said)
            except (OSError, subprocess.SubprocessError, wave.Error, EOFError, ValueError):
                return None

    def render(self, duration: float, speech: tuple[Stretch, ...]) -> bytes:
        """A WAV file of ``duration`` seconds: the phrase during ``speech``, silence elsewhere."""
        rate, phrase = self.phrase()
        frames = max(0, round(duration * rate))
        pcm = bytearray(frames * 2)
        # The phrase then a short gap, repeated for as long as the caller keeps talking.
        cycle = phrase + bytes(round(0.3 * rate) * 2)
        for start, end in speech:
            first, last = max(0, round(start * rate)), min(frames, round(end * rate))
            if last > first:
                pcm[first * 2:last * 2] = _loop(cycle, (last - first) * 2)
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(bytes(pcm))
        return out.getvalue()


def _loop(cycle: bytes, length: int) -> bytes:
    repeats = -(-length // len(cycle))
    return (cycle * repeats)[:length]


def _read_pcm(path: Path) -> tuple[int, bytes]:
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1 or not wav.getnframes():
            raise ValueError("not 16-bit mono audio")
        return wav.getframerate(), wav.readframes(wav.getnframes())


def _tone(rate: int, hertz: int = 400, seconds: float = 1.0) -> tuple[int, bytes]:
    samples = (round(9000 * math.sin(2 * math.pi * hertz * i / rate))
               for i in range(round(rate * seconds)))
    return rate, struct.pack(f"<{round(rate * seconds)}h", *samples)


class Recordings:
    """Every recording the simulator made or was given, by file name."""

    def __init__(self, voice: Voice | None = None) -> None:
        self.voice = voice or Voice()
        self._by_name: dict[str, Recording] = {}
        self._lock = threading.Lock()

    def add(self, session: str, kind: str, duration: float, speech: tuple[Stretch, ...],
            base_url: str, upload: Upload | None = None,
            named: tuple[str, str] | None = None) -> Recording:
        """A new recording, served at ``/sim/recordings/<id><suffix>``; ``named``: its id
        and URL, when the call's provider names recordings its own way (Twilio)."""
        with self._lock:
            # Unguessable, like session ids, in Hoiio's shape (rec-<digits>).
            rec_id = f"rec-{secrets.randbelow(10 ** 24):024d}"
            suffix = upload.suffix if upload else ".wav"
            url = f"{base_url.rstrip('/')}/sim/recordings/{rec_id}{suffix}"
            if named is not None:
                rec_id, url = named
            rec = Recording(rec_id, session, kind, max(0.0, duration), speech, url, upload)
            self._by_name[rec.filename] = rec
            return rec

    def forget(self, recordings: list[Recording]) -> None:
        """Drop ``recordings`` (those of a call the simulator no longer keeps)."""
        with self._lock:
            for rec in recordings:
                self._by_name.pop(rec.filename, None)

    def find(self, name: str) -> Recording | None:
        with self._lock:
            return self._by_name.get(name)

    def find_id(self, rec_id: str) -> Recording | None:
        """The recording ``rec_id``, whatever its file's suffix."""
        with self._lock:
            return next((rec for rec in self._by_name.values() if rec.id == rec_id), None)

    def content(self, rec: Recording) -> bytes:
        """The file's bytes, made on first use."""
        if rec.upload is not None:
            return rec.upload.data
        with self._lock:
            cached = rec.content
        if cached is None:
            cached = self.voice.render(rec.duration, rec.speech)
            with self._lock:
                rec.content = cached
        return cached

    def clear(self) -> None:
        with self._lock:
            self._by_name.clear()

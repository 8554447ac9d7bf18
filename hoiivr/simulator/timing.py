"""How long things take on a simulated call, and what a caller hears of a ``msg``.

A prompt lasts as long as text-to-speech would take to say it (about 2.5 words a second,
plus a short pause), each ``<url>`` audio file a fixed few seconds. Phones ring for a
while before answering, and ring out after about 30 s when nobody answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol import MsgError, Segment, parse_msg, spoken_text


@dataclass(frozen=True)
class Timing:
    """The durations of the model; pass ``Simulator(timing=Timing(...))`` to change them."""

    words_per_second: float = 2.5
    #: Added to every non-empty prompt (the pause before and after speech).
    prompt_padding: float = 0.5
    #: How long a ``<url>`` audio file plays (the simulator does not fetch it).
    audio_seconds: float = 3.0
    #: How long a phone that answers rings first.
    answer_after: float = 3.0
    #: How long an unanswered phone rings before the attempt is given up.
    unanswered_after: float = 30.0
    busy_after: float = 1.0
    failed_after: float = 0.5

    def ring_seconds(self, behaviour: str) -> float:
        """How long dialling a phone with ``behaviour`` takes to produce its outcome (for a
        ``manual`` phone: until it rings out, unless a person answers it first)."""
        return {"answer": self.answer_after, "busy": self.busy_after,
                "unanswered": self.unanswered_after,
                "manual": self.unanswered_after}.get(behaviour, self.failed_after)

    def speech_seconds(self, text: str) -> float:
        # Scripts written without spaces (Chinese, Japanese, Korean, Thai) are counted a
        # word per two characters, about the pace of their text-to-speech voices.
        unspaced = sum(map(_unspaced, text))
        spaced = "".join(" " if _unspaced(c) else c for c in text)
        return (len(spaced.split()) + unspaced / 2) / self.words_per_second


def _unspaced(char: str) -> bool:
    code = ord(char)
    return (0x0E00 <= code <= 0x0E7F or 0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x9FFF
            or 0xAC00 <= code <= 0xD7AF)


@dataclass(frozen=True)
class Prompt:
    """One ``msg`` as the caller hears it: its text, its parts and how long it plays."""

    text: str
    seconds: float
    segments: tuple[Segment, ...] = ()

    @classmethod
    def of(cls, msg: str | None, timing: Timing) -> Prompt:
        """The prompt of ``msg`` (already validated; bad markup is read as plain text)."""
        if not msg:
            return cls("", 0.0)
        try:
            segments = tuple(parse_msg(msg))
        except MsgError:
            segments = (Segment(text=msg),)
        if not segments:
            return cls("", 0.0)
        seconds = timing.prompt_padding + sum(
            timing.audio_seconds if s.url else timing.speech_seconds(s.text) for s in segments)
        return cls(spoken_text(msg), round(seconds, 3), segments)

    def to_json(self) -> dict[str, Any]:
        parts = [{"audio": s.url} if s.url else
                 {"text": s.text.strip(), "language": s.language, "gender": s.gender}
                 for s in self.segments]
        return {"text": self.text, "seconds": self.seconds, "segments": parts}

"""``<Say>``, ``<Play>`` and ``<Pause>``: what the caller hears, and for how long.

A verb at the top of a document is one prompt in the call's ``prompts``; the verbs nested
in a ``<Gather>`` are one prompt together, as the prompt of a Hoiio Gather is. A ``loop``
plays the piece that many times (the prompt lists it once, ``looped``); a Play's URL is
not fetched: it lasts :attr:`~hoiivr.simulator.Timing.audio_seconds`, as a Hoiio
``<url>`` does, and reads ``[audio URL]``.
"""
from __future__ import annotations

from collections.abc import Sequence

from ...protocol import Segment
from .. import calls
from ..calls import Session
from ..timing import Prompt
from .base import Base, Then
from .verbs import Pause, Play, Prompt as PromptVerb, Say

#: How long a DTMF tone of ``<Play digits>`` lasts; ``w`` waits half a second.
TONE_SECONDS, WAIT_SECONDS = 0.1, 0.5


class Prompting(Base):
    """Plays prompts on the engine's clock."""

    def prompt(self, pieces: Sequence[PromptVerb]) -> tuple[Prompt, bool]:
        """The prompt of ``pieces``, and whether any of them loops."""
        timing = self.engine.timing
        texts: list[str] = []
        segments: list[Segment] = []
        seconds, looped = 0.0, False
        for piece in pieces:
            if isinstance(piece, Say):
                looped |= piece.loop != 1
                if piece.text:
                    texts.append(piece.text)
                    segments.append(Segment(piece.text, piece.language,
                                            "male" if piece.voice == "man" else "female"))
                    seconds += piece.loop * (timing.speech_seconds(piece.text)
                                             + timing.prompt_padding)
            elif isinstance(piece, Play):
                looped |= piece.loop != 1
                if piece.url:
                    texts.append(f"[audio {piece.url}]")
                    segments.append(Segment(url=piece.url))
                    seconds += piece.loop * timing.audio_seconds
                digits = piece.digits.lower()
                seconds += TONE_SECONDS * (len(digits) - digits.count("w")) \
                    + WAIT_SECONDS * digits.count("w")
            elif isinstance(piece, Pause):
                seconds += piece.length
        return Prompt(" ".join(texts), round(seconds, 3), tuple(segments)), looped

    def play(self, s: Session, pieces: Sequence[PromptVerb], block: str, then: Then) -> None:
        """Play ``pieces`` as one prompt, then ``then(s)``."""
        prompt, looped = self.prompt(pieces)
        now = self.now()
        if prompt.text:
            s.heard(now, prompt, looped=looped, block=block)
        s.state = calls.PLAYING
        s.prompt_until = now + prompt.seconds
        self.after(s, "block", prompt.seconds, then)

    def run_prompt(self, s: Session, verb: PromptVerb) -> None:
        self.play(s, [verb], type(verb).__name__.lower(), self.next_verb)

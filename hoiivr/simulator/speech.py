"""Offline speech recognition of a caller's audio, for TwiML's ``<Gather input="speech">``.

PocketSphinx (the ``speech`` extra: ``pip install -e '.[speech]'``) decodes the audio with its
bundled US English model. With hints, the hints are the grammar: the caller is taken to say
one of the hint phrases, and the decoder picks which. Speech outside them is often heard as
the nearest hint, sometimes with a high confidence (a grammar cannot tell "hello there" is
none of its phrases); only when no whole phrase fits at all, or without hints, it falls back
to free dictation with the default language model, which is poor on short answers and says
so through a low confidence::

    heard = recognize(wav_bytes, hints=["sales", "support"])
    heard.text, heard.confidence, heard.how        # ("sales", 1.0, "grammar")

Hints are lowercased, their punctuation dropped and their numbers said digit by digit ("123"
is "one two three"); a hint with a word the model's dictionary lacks is left out of the
grammar, since the decoder could never hear it, and reported in ``Heard.left_out``.

``confidence`` is the decoder's lattice posterior: the product of the posteriors of the words
it heard (fillers and silences aside), so 1.0 when no competing phrase survived the search.

Costs (``benchmarks/speech.py``, one-second answers): the first call builds a decoder (0.3 to
0.7 s, ~95 MB); a new set of hints costs ~1 ms once per decoder; an answer takes 13 to 25 ms
with hints (1.0 to 1.4 times PocketSphinx called by hand: reading, resampling, noise floor)
and 200 to 600 ms in dictation (0.8 to 0.9 times).
PocketSphinx holds the GIL while it decodes, so dictation is fed in 0.1 s blocks to let the
simulator's other threads run in between.
"""
from __future__ import annotations

import functools
import importlib
import itertools
import operator
import random
import re
import sys
import threading
from array import array
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterator, Literal, Mapping, Sequence

from .errors import SimulatorError
from .wav import RATE, BadAudio, read_wav

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = ["DECODER_SETTINGS", "BadAudio", "Heard", "Recognizer", "SpeechUnavailable",
           "recognize"]

How = Literal["grammar", "dictation", "text"]


class SpeechUnavailable(SimulatorError):
    """Speech cannot be recognized here (PocketSphinx is missing, or the language has no
    model); the caller's words can still be sent as text."""

    http_status = 501


@dataclass(frozen=True)
class Heard:
    """What the recognizer heard in one utterance.

    ``how`` is ``grammar`` when the text is one of the hints, ``dictation`` when it came from
    free dictation, ``text`` when the caller's words were given as text (not recognized). ``left_out`` holds the hints that could not be in the grammar because a
    word of theirs is not in the model's dictionary (the caller can never be heard saying
    them). ``seconds`` is the length of the audio.
    """

    text: str
    confidence: float
    how: How
    seconds: float
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Grammar:
    search: str | None              # the decoder's search for the phrases; None: no phrase
    phrases: frozenset[str]         # each hint as its dictionary words, space-separated
    left_out: tuple[str, ...]


_NO_GRAMMAR = _Grammar(None, frozenset(), ())


#: How the decoders are built. bestpath: a word lattice at the end of each utterance, for
#: the words' posteriors. Not fwdflat: dictation's second pass, run at the end of the
#: utterance in one call that holds the GIL (0.8 s for 13 s of audio), makes it 30% slower
#: and hears no more of the speech benchmark's answers right.
DECODER_SETTINGS: Mapping[str, object] = MappingProxyType(
    {"loglevel": "FATAL", "bestpath": True, "fwdflat": False})

_DIGITS = dict(zip("0123456789", "zero one two three four five six seven eight nine".split()))
_DICTATION = "_default"     # the search PocketSphinx builds from its default language model
_PRIMER = "primer"
_WORD = re.compile(r"[\w']+")


def _phrase_words(phrase: str) -> list[str]:
    """A hint's words as the dictionary spells them: lowercase, punctuation dropped, and a
    number said digit by digit (``"123"`` is "one two three", as callers read codes out)."""
    words: list[str] = []
    for token in _WORD.findall(phrase.lower()):
        token = token.strip("'")
        if token.isascii() and token.isdigit():
            words.extend(_DIGITS[digit] for digit in token)
        elif token:
            words.append(token)
    return words


def _hint_phrases(hints: str | Sequence[str]) -> tuple[str, ...]:
    # A str is TwiML's ``hints`` attribute as written: comma-separated phrases.
    phrases = hints.split(",") if isinstance(hints, str) else hints
    return tuple(dict.fromkeys(p.strip() for p in phrases if p.strip()))


class _Decoder:
    """One PocketSphinx decoder and the grammar searches it has built, most recent last."""

    def __init__(self, grammars: int) -> None:
        pocketsphinx = _import_pocketsphinx()
        try:
            self.ps: Decoder = pocketsphinx.Decoder(**DECODER_SETTINGS)
        except (RuntimeError, ValueError) as exc:
            raise SpeechUnavailable(f"PocketSphinx could not load its model ({exc}): "
                                    "reinstall it with pip install -e '.[speech]'") from exc
        self.ps.add_jsgf_string(_PRIMER, "#JSGF V1.0;\ngrammar primer;\npublic <a> = a;\n")
        # The first utterance dictated after the decoder is built scores a little unlike
        # every later one (the search initializes some state lazily): dictate a moment of
        # silence now, so that the same audio always gets the same answer.
        self._start(_DICTATION)
        self.ps.process_raw(bytes(3200))
        self._result()
        self.capacity = grammars
        self.grammars: OrderedDict[tuple[str, ...], _Grammar] = OrderedDict()
        # Each cached grammar owns its search, even when two sets of hints come to the
        # same words, so evicting one never removes a search another still uses.
        self._names = (f"hints-{n}" for n in itertools.count())

    def grammar(self, phrases: tuple[str, ...]) -> _Grammar:
        if phrases in self.grammars:
            self.grammars.move_to_end(phrases)
            return self.grammars[phrases]
        grammar = self._build(phrases)
        self.grammars[phrases] = grammar
        if len(self.grammars) > self.capacity:
            _, old = self.grammars.popitem(last=False)
            if old.search:
                self.ps.remove_search(old.search)
        return grammar

    def _build(self, phrases: tuple[str, ...]) -> _Grammar:
        usable: dict[str, None] = {}
        left_out: list[str] = []
        for phrase in phrases:
            words = _phrase_words(phrase)
            if words and all(self.ps.lookup_word(word) for word in words):
                usable[" ".join(words)] = None
            else:
                left_out.append(phrase)
        if not usable:
            return _Grammar(None, frozenset(), tuple(left_out))
        # Words are dictionary entries made of letters, digits and apostrophes: nothing in
        # them is JSGF syntax, so the grammar cannot fail to parse.
        jsgf = ("#JSGF V1.0;\ngrammar hints;\npublic <hint> = "
                + " | ".join(usable) + ";\n")
        search = next(self._names)
        self.ps.add_jsgf_string(search, jsgf)
        return _Grammar(search, frozenset(usable), tuple(left_out))

    def hear(self, grammar: _Grammar, pcm: bytes, block: int) -> tuple[str, float, How]:
        """``(text, confidence, how)`` for 16 kHz mono 16-bit ``pcm``: one of the grammar's
        phrases, or dictation when none fits."""
        # The grammar pass takes the whole utterance in one call: its cepstral mean is then
        # the utterance's own, which short answers need, and it is quick (~10 ms per second
        # of audio) though it holds the GIL. Without hints a one-word grammar makes the pass.
        self._start(grammar.search or _PRIMER)
        self.ps.process_raw(pcm, full_utt=True)
        text, confidence = self._result()
        # When no whole phrase fits, the search answers with the best partial one ("one two"
        # of "one two three"): that is no answer.
        if text in grammar.phrases:
            return text, confidence, "grammar"
        # Dictation is 20 times slower: fed in blocks, starting from the mean just measured,
        # so the simulator's other threads get the GIL in between.
        self._start(_DICTATION, self.ps.get_cmn(True))
        for start in range(0, len(pcm), block):
            self.ps.process_raw(pcm[start:start + block])
        text, confidence = self._result()
        return text, confidence, "dictation"

    def _start(self, search: str, mean: str | None = None) -> None:
        self.ps.activate_search(search)
        # The cepstral mean otherwise carries over from the last utterance: resetting it
        # makes the answer depend on this audio only, not on what this decoder heard before.
        self.ps.reinit_feat()
        if mean is not None:
            self.ps.set_cmn(mean)
        self.ps.start_utt()

    def _result(self) -> tuple[str, float]:
        self.ps.end_utt()
        hyp = self.ps.hyp()
        if hyp is None or not hyp.hypstr:
            return "", 0.0
        confidence = 1.0
        for segment in self.ps.seg() or ():
            if not segment.word.startswith(("<", "[", "+")):    # silences and noises
                confidence *= segment.prob
        return hyp.hypstr, min(1.0, max(0.0, confidence))


def _import_pocketsphinx() -> Any:
    try:
        return importlib.import_module("pocketsphinx")
    except ImportError as exc:
        raise SpeechUnavailable(
            "recognizing a caller's audio needs PocketSphinx, an optional dependency: run "
            "pip install -e '.[speech]' in hoiivr's checkout, or send the caller's words as "
            'text ({"text": "sales"})') from exc


class Recognizer:
    """Recognizes callers' audio; safe to share between threads.

    It keeps up to ``decoders`` PocketSphinx decoders (built on first need: ~0.3 s and ~95 MB
    each) and, in each, the searches of the last ``grammars`` sets of hints. A call takes an
    idle decoder for as long as it decodes, and waits when all are busy. Decoding holds the
    GIL except between blocks, so a second decoder does not add throughput; it keeps a short
    answer from queueing behind a long dictation.
    """

    #: Longest audio accepted, in seconds: a Gather's answer, not a recording.
    max_seconds: float = 60.0
    #: Audio fed to the decoder per call in dictation (0.1 s at 16 kHz, 16-bit).
    block_bytes: int = 3200
    #: Standard deviation of the noise floor added to the audio, of 32768 (about -44 dBFS).
    noise_floor: int = 200

    def __init__(self, decoders: int = 2, grammars: int = 32) -> None:
        if decoders < 1 or grammars < 1:
            raise ValueError("a Recognizer needs at least one decoder and one grammar slot")
        self.decoders = decoders
        self.grammars = grammars
        self._idle: list[_Decoder] = []
        self._built = 0
        self._changed = threading.Condition()

    def recognize(self, wav: bytes, hints: str | Sequence[str] = (),
                  language: str = "en-US") -> Heard:
        """What the caller says in ``wav`` (a WAV file's bytes, any rate and channels).

        ``hints`` are the Gather's phrases (a list, or TwiML's comma-separated string).
        Raises :class:`BadAudio` for audio it cannot use and :class:`SpeechUnavailable` when
        it cannot recognize speech at all.
        """
        _check_language(language)
        audio = read_wav(wav, self.max_seconds)
        phrases = _hint_phrases(hints)
        pcm = _with_noise_floor(audio.pcm, self.noise_floor)
        with self._decoder() as decoder:
            grammar = decoder.grammar(phrases) if phrases else _NO_GRAMMAR
            try:
                text, confidence, how = decoder.hear(grammar, pcm, self.block_bytes)
            except (RuntimeError, ValueError, KeyError) as exc:
                raise SimulatorError(f"PocketSphinx could not decode this audio ({exc}); "
                                     "send the caller's words as text instead", 500) from exc
        return Heard(text, confidence, how, audio.seconds, grammar.left_out)

    @contextmanager
    def _decoder(self) -> Iterator[_Decoder]:
        decoder = self._take()
        try:
            yield decoder
        except BaseException:
            # It may be stuck mid-utterance: drop it and let the next call build a new one.
            self._release(None)
            raise
        self._release(decoder)

    def _take(self) -> _Decoder:
        with self._changed:
            while not self._idle and self._built >= self.decoders:
                self._changed.wait()
            if self._idle:
                return self._idle.pop()
            self._built += 1
        try:
            return _Decoder(self.grammars)      # built outside the lock: it takes 0.3 s
        except BaseException:
            self._release(None)
            raise

    def _release(self, decoder: _Decoder | None) -> None:
        with self._changed:
            if decoder is None:
                self._built -= 1
            else:
                self._idle.append(decoder)
            self._changed.notify()


@functools.lru_cache(maxsize=4)
def _floor_noise(level: int) -> array[int]:
    # One second of Gaussian noise, from a fixed seed: the same audio always gets the same
    # noise, so it always gets the same answer.
    rng = random.Random(25)
    return array("h", [max(-4 * level, min(4 * level, round(rng.gauss(0, level))))
                       for _ in range(RATE)])


def _with_noise_floor(pcm: bytes, level: int) -> bytes:
    """16-bit little-endian ``pcm`` with Gaussian noise of standard deviation ``level`` added.

    Synthetic speech is half digital silence, and telephone audio brought up to 16 kHz has
    nothing above 4 kHz: the log energies of such empty filter banks are extreme values the
    model never met in training, and they pull the cepstral mean away from the speech. A
    faint floor, as any microphone has, fixes both (``benchmarks/speech.py``, with hints: 37
    of its 48 espeak-ng answers right without it, 48 with it; at 8 kHz, about 30 and 48).
    """
    if level <= 0:
        return pcm
    samples = array("h", pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    noise = _floor_noise(level)
    noise = noise * (len(samples) // len(noise) + 1)        # a copy: the cached one stays
    try:
        out = array("h", map(operator.add, samples, noise))
    except OverflowError:       # a sample at full scale: clip, as a microphone would
        out = array("h", [max(-32768, min(32767, v))
                          for v in map(operator.add, samples, noise)])
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


def _check_language(language: str) -> None:
    if re.split(r"[-_]", language.strip().lower())[0] != "en":
        raise SpeechUnavailable(
            f"the offline recognizer has only an English model, not one for {language!r}: "
            'send the caller\'s words as text ({"text": "..."}) instead')


_shared = Recognizer()


def recognize(wav: bytes, hints: str | Sequence[str] = (), language: str = "en-US") -> Heard:
    """:meth:`Recognizer.recognize` on the process's shared recognizer."""
    return _shared.recognize(wav, hints, language)

"""Recognition time and accuracy of ``hoiivr.simulator.speech`` against PocketSphinx alone.

Run: ``python benchmarks/speech.py [--repeat 3] [--rates 22050,8000]`` (about four minutes
with the defaults; needs espeak-ng, sox and the ``speech`` extra).

The fixed set: each of PHRASES said by espeak-ng in two voices (``en-us``, ``en-gb``) at two
speeds (140 and 175 words a minute): 48 utterances, 0.5 to 1.7 s long, as espeak-ng writes
them (22050 Hz mono) and brought to 8 kHz by sox (a caller on the telephone).

Each utterance is recognized with hints (all of PHRASES) and without (dictation) by:

- hoiivr: ``Recognizer.recognize(wav_bytes, hints)`` on a warm recognizer (decoder built,
  grammar cached), the whole call timed: WAV parsing, resampling, noise floor, decoding;
- hoiivr without its noise floor (``noise_floor = 0``): accuracy only, what the floor buys;
- PocketSphinx by hand, the baseline: a ``Decoder`` with hoiivr's settings
  (``DECODER_SETTINGS``) and the same JSGF grammar or its default language model, given the
  utterance already at 16 kHz (sox, before timing) in one ``process_raw(full_utt=True)``
  call, then ``hyp()``: the ratio is what hoiivr's own code costs.

Each utterance is decoded ``--repeat`` times by each, in alternating order; its time is the
median of its repeats. The table shows the median and 90th percentile over utterances, the
ratio of hoiivr's median to the baseline's, the share of answers exactly right, and the mean
confidence hoiivr gave right and wrong answers (a useful confidence separates them).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import pocketsphinx

from hoiivr.simulator.speech import DECODER_SETTINGS, Recognizer

T = TypeVar("T")
PHRASES = ["sales", "support", "billing", "one two three", "operator", "yes", "no", "agent",
           "cancel", "repeat", "main menu", "speak to a person"]
VOICES = [("en-us", 140), ("en-us", 175), ("en-gb", 140), ("en-gb", 175)]


@dataclass(frozen=True)
class Utterance:
    text: str
    wav: bytes          # as hoiivr receives it
    raw16k: bytes       # the same audio at 16 kHz mono 16-bit, by sox, for the baseline


@dataclass
class Tally:
    """One recognizer's results over the set, in one mode."""

    name: str
    times: list[float] = field(default_factory=list)
    right: int = 0
    wrong: int = 0
    confidence: dict[bool, list[float]] = field(default_factory=lambda: {True: [], False: []})

    def add(self, said: str, heard: str, seconds: float | None, confidence: float | None) -> None:
        self.right += heard == said
        self.wrong += heard != said
        if seconds is not None:
            self.times.append(seconds)
        if confidence is not None:
            self.confidence[heard == said].append(confidence)

    def median(self) -> float:
        return statistics.median(self.times)

    def p90(self) -> float:
        return statistics.quantiles(self.times, n=10)[-1]


def make_set(rate: int, folder: Path) -> list[Utterance]:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        sys.exit("this benchmark needs espeak-ng and sox: apt-get install espeak-ng sox")
    made = []
    for n, (phrase, (voice, speed)) in enumerate((p, v) for p in PHRASES for v in VOICES):
        said, heard, raw = (folder / f"{n}{suffix}" for suffix in (".said.wav", ".wav", ".raw"))
        subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(said), phrase],
                       check=True, capture_output=True)
        subprocess.run([sox, str(said), "-r", str(rate), str(heard)], check=True)
        subprocess.run([sox, str(heard), "-r", "16000", "-c", "1", "-b", "16",
                        "-e", "signed-integer", "-t", "raw", str(raw)], check=True)
        made.append(Utterance(phrase, heard.read_bytes(), raw.read_bytes()))
    return made


def baseline(hints: Sequence[str]) -> Callable[[bytes], str]:
    """PocketSphinx as its documentation shows it, with the hints as a JSGF grammar."""
    decoder = pocketsphinx.Decoder(**DECODER_SETTINGS)
    if hints:
        decoder.add_jsgf_string("hints", "#JSGF V1.0;\ngrammar hints;\npublic <hint> = "
                                + " | ".join(hints) + ";\n")
        decoder.activate_search("hints")

    def decode(raw: bytes) -> str:
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp else ""

    return decode


def timed(work: Callable[[], T]) -> tuple[float, T]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def run_mode(utterances: list[Utterance], hints: Sequence[str], repeat: int) -> list[Tally]:
    ours, plain, bare = Recognizer(decoders=1), Recognizer(decoders=1), baseline(hints)
    plain.noise_floor = 0
    ours.recognize(utterances[0].wav, hints)            # build the decoder and the grammar
    tallies = [Tally("hoiivr"), Tally("hoiivr, no noise floor"), Tally("PocketSphinx alone")]
    for utterance in utterances:
        mine: list[float] = []
        theirs: list[float] = []
        for turn in range(repeat):
            order = [0, 1] if turn % 2 == 0 else [1, 0]
            for who in order:
                if who == 0:
                    took, heard = timed(lambda: ours.recognize(utterance.wav, hints))
                    mine.append(took)
                else:
                    took, text = timed(lambda: bare(utterance.raw16k))
                    theirs.append(took)
        tallies[0].add(utterance.text, heard.text, statistics.median(mine), heard.confidence)
        tallies[1].add(utterance.text, plain.recognize(utterance.wav, hints).text, None, None)
        tallies[2].add(utterance.text, text, statistics.median(theirs), None)
    return tallies


def report(title: str, tallies: list[Tally]) -> None:
    base = tallies[-1].median()
    print(f"\n{title}")
    print(f"{'':<26}{'median ms':>10}{'p90 ms':>8}{'ratio':>7}{'right':>9}"
          f"{'conf. right':>13}{'conf. wrong':>13}")
    for tally in tallies:
        total = tally.right + tally.wrong
        timing = (f"{tally.median() * 1000:>10.1f}{tally.p90() * 1000:>8.1f}"
                  f"{tally.median() / base:>6.2f}x" if tally.times else f"{'':>25}")
        confidences = "".join(f"{statistics.mean(tally.confidence[k]):>13.2f}"
                              if tally.confidence[k] else f"{'-':>13}" for k in (True, False))
        print(f"{tally.name:<26}{timing}{tally.right:>5}/{total:<3}"
              f"{confidences if tally.times and tally.name == 'hoiivr' else ''}")


def startup() -> None:
    took, _ = timed(lambda: pocketsphinx.Decoder(**DECODER_SETTINGS))
    print(f"PocketSphinx {metadata.version('pocketsphinx')}, Python {sys.version.split()[0]}: "
          f"a decoder takes {took * 1000:.0f} ms to build (the first recognize() pays it)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, choices=range(1, 100), metavar="N",
                        help="decodes of each utterance by each recognizer (default 3)")
    parser.add_argument("--rates", default="22050,8000",
                        help="sample rates of the audio hoiivr receives, comma-separated")
    args = parser.parse_args(argv)
    startup()
    for rate in (int(r) for r in args.rates.split(",")):
        with tempfile.TemporaryDirectory(prefix="hoiivr-speech-bench-") as folder:
            utterances = make_set(rate, Path(folder))
        seconds = statistics.median(len(u.raw16k) / 32000 for u in utterances)
        for hints, mode in ((PHRASES, "with hints (a grammar)"), ((), "without hints (dictation)")):
            report(f"{len(utterances)} utterances at {rate} Hz (median {seconds:.2f} s), {mode}:",
                   run_mode(utterances, hints, args.repeat))


if __name__ == "__main__":
    main()

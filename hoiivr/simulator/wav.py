"""Reading a caller's WAV upload as the 16 kHz mono 16-bit audio a recognizer needs.

Standard library only: the ``audioop`` module is deprecated since Python 3.11 and gone in
3.13, and ``wave`` reads neither float samples nor, before 3.12, the WAVE_FORMAT_EXTENSIBLE
header that sox and ffmpeg write for 24-bit or multichannel audio. So the RIFF chunks are
read here. Channels are averaged and the rate is changed by linear interpolation, without a
low-pass filter first: speech has little energy above 8 kHz and the acoustic model's filter
bank stops below it, so what folds back is faint (``benchmarks/speech.py`` hears all 48 of its
espeak-ng answers right from 22050 Hz).
"""
from __future__ import annotations

import math
import struct
import sys
from array import array
from dataclasses import dataclass

from .errors import SimulatorError

#: The rate PocketSphinx's US English model was trained on.
RATE = 16000
_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_CODECS = {0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
           0x0031: "GSM 6.10", 0x0055: "MP3"}
_CONVERT = "sox {} -e signed-integer -b 16 answer.wav"
_FLIP_SIGN = bytes(b ^ 0x80 for b in range(256))


class BadAudio(SimulatorError):
    """The audio cannot be recognized as sent; the message says what to send instead."""


@dataclass(frozen=True)
class Audio:
    """Audio ready for the recognizer: 16 kHz mono signed 16-bit little-endian ``pcm``."""

    pcm: bytes
    seconds: float


@dataclass(frozen=True)
class _Format:
    encoding: int
    channels: int
    rate: int
    bits: int


def read_wav(data: bytes, max_seconds: float) -> Audio:
    """The WAV file ``data`` as :class:`Audio`, or :class:`BadAudio` saying what is wrong."""
    if not data:
        raise BadAudio("the audio is empty: send a WAV file of the caller speaking")
    fmt, samples = _chunks(bytes(data))
    frame = fmt.channels * fmt.bits // 8
    frames = len(samples) // frame
    seconds = frames / fmt.rate
    if frames == 0:
        raise BadAudio("the WAV file holds no audio: send a WAV file of the caller speaking")
    if seconds > max_seconds:
        raise BadAudio(f"the audio is {seconds:.1f} s long and the recognizer takes at most "
                       f"{max_seconds:g} s: send only the caller's answer (to cut it: sox "
                       f"in.wav answer.wav trim 0 {max_seconds:g})", 413)
    mono = _downmix(_to_int16(samples[:frames * frame], fmt), fmt.channels)
    pcm = _resample(mono, fmt.rate)
    if sys.byteorder == "big":
        pcm.byteswap()
    return Audio(pcm.tobytes(), seconds)


def _chunks(data: bytes) -> tuple[_Format, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise BadAudio("the audio is not a WAV file (RIFF/WAVE): send a WAV file; to convert "
                       "another format: " + _CONVERT.format("answer.mp3"), 415)
    found: dict[bytes, bytes] = {}
    at = 12
    while at + 8 <= len(data):
        name, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        # A streamed WAV's data chunk may claim more than follows: it is the rest of the file.
        found.setdefault(name, data[at + 8:at + 8 + size])
        at += 8 + size + (size & 1)
    if b"fmt " not in found or b"data" not in found:
        raise BadAudio("the WAV file has no fmt or no data chunk, so it is cut short or "
                       "damaged: send the whole file")
    return _format(found[b"fmt "]), found[b"data"]


def _format(chunk: bytes) -> _Format:
    if len(chunk) < 16:
        raise BadAudio("the WAV file's fmt chunk is cut short: send the whole file")
    encoding, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", chunk)
    if encoding == _EXTENSIBLE and len(chunk) >= 26:
        encoding = int.from_bytes(chunk[24:26], "little")  # the sub-format GUID's first field
    fmt = _Format(encoding, channels, rate, bits)
    if (encoding, bits) not in {(_PCM, 8), (_PCM, 16), (_PCM, 24), (_PCM, 32),
                                (_FLOAT, 32), (_FLOAT, 64)}:
        name = _CODECS.get(encoding, f"encoding {encoding:#06x}")
        if encoding in (_PCM, _FLOAT):
            name = f"{bits}-bit {'PCM' if encoding == _PCM else 'float'}"
        raise BadAudio(f"the WAV file's audio is {name}; the recognizer reads 8, 16, 24 or "
                       "32-bit PCM or 32/64-bit float: convert it with "
                       + _CONVERT.format("in.wav"), 415)
    if not 1 <= channels <= 32 or not 8000 <= rate <= 384000:
        raise BadAudio(f"the WAV file says {channels} channel(s) at {rate} Hz; send speech "
                       "sampled at 8000 Hz or more, in 1 to 32 channels")
    return fmt


def _to_int16(samples: bytes, fmt: _Format) -> array[int]:
    """Interleaved native-order 16-bit samples; integer formats keep their top 16 bits."""
    if fmt.encoding == _FLOAT:
        wide = array("f" if fmt.bits == 32 else "d", samples)
        if sys.byteorder == "big":
            wide.byteswap()
        return array("h", [int(max(-1.0, min(1.0, v)) * 32767) for v in wide])
    width = fmt.bits // 8
    if width == 2:
        out = bytearray(samples)
    else:
        out = bytearray(len(samples) // width * 2)
        # Little-endian: the top two bytes of each sample are its last two; 8-bit is unsigned.
        out[1::2] = samples.translate(_FLIP_SIGN) if width == 1 else samples[width - 1::width]
        if width > 2:
            out[0::2] = samples[width - 2::width]
    ints = array("h", out)
    if sys.byteorder == "big":
        ints.byteswap()
    return ints


def _downmix(samples: array[int], channels: int) -> array[int]:
    if channels == 1:
        return samples
    parts = [samples[c::channels] for c in range(channels)]
    return array("h", [sum(frame) // channels for frame in zip(*parts)])


def _resample(samples: array[int], rate: int) -> array[int]:
    """``samples`` at ``rate`` as samples at :data:`RATE`, by linear interpolation."""
    if rate == RATE:
        return samples
    # Every `outputs` samples out span `inputs` samples in, and the interpolation weights
    # repeat with that period: output k, k + outputs, ... lie at the same fraction `part`
    # (of `outputs`) past input k * inputs // outputs, k * inputs // outputs + inputs, ...
    # So each of these phases is two strided slices and one weighted sum.
    common = math.gcd(rate, RATE)
    inputs, outputs = rate // common, RATE // common
    count = len(samples) * RATE // rate
    padded = samples + array("h", [samples[-1]])     # the last point has a right neighbour
    out = array("h", bytes(2 * count))
    for phase in range(min(outputs, count)):
        first, part = divmod(phase * inputs, outputs)
        size = len(range(phase, count, outputs))
        left = padded[first::inputs][:size]
        if part == 0:
            out[phase::outputs] = left
            continue
        right = padded[first + 1::inputs][:size]
        out[phase::outputs] = array("h", [a + (b - a) * part // outputs
                                          for a, b in zip(left, right)])
    return out

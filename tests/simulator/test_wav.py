"""WAV uploads become 16 kHz mono 16-bit samples, exactly, whatever their format."""
from __future__ import annotations

import struct
from array import array

import pytest

from hoiivr.simulator.wav import BadAudio, read_wav

PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


def riff(encoding: int, channels: int, rate: int, bits: int, data: bytes,
         extensible: bool = False, extra: bytes = b"") -> bytes:
    """A WAV file written by hand, so every header field is the test's to choose."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", EXTENSIBLE if extensible else encoding, channels, rate,
                      rate * block, block, bits)
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", encoding) + guid_tail
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
              + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def s16(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


def test_16k_mono_16bit_is_kept_as_is() -> None:
    audio = read_wav(riff(PCM, 1, 16000, 16, s16(1, -2, 300, -32768, 32767)), 60)
    assert samples(audio.pcm) == [1, -2, 300, -32768, 32767]
    assert audio.seconds == 5 / 16000


def test_8k_is_brought_to_16k_by_linear_interpolation() -> None:
    audio = read_wav(riff(PCM, 1, 8000, 16, s16(0, 100, 200, -200)), 60)
    assert samples(audio.pcm) == [0, 50, 100, 150, 200, 0, -200, -200]
    assert audio.seconds == 4 / 8000


def test_higher_rates_are_brought_down() -> None:
    ramp = list(range(0, 4800, 10))                         # 480 samples: 10 ms at 48 kHz
    out = samples(read_wav(riff(PCM, 1, 48000, 16, s16(*ramp)), 60).pcm)
    assert out == ramp[::3] and len(out) == 160


def test_channels_are_averaged() -> None:
    stereo = s16(1000, 3000, -1000, -3001, 0, 5)
    assert samples(read_wav(riff(PCM, 2, 16000, 16, stereo), 60).pcm) == [2000, -2001, 2]


@pytest.mark.parametrize("bits, data, expected", [
    (8, bytes([0x80, 0xFF, 0x00, 0x81]), [0, 0x7F00, -0x8000, 0x100]),
    (24, bytes.fromhex("563412" "0000ff" "ffff7f"), [0x1234, -256, 0x7FFF]),
    (32, bytes.fromhex("78563412" "00000080"), [0x1234, -0x8000]),
])
def test_integer_samples_keep_their_top_16_bits(bits: int, data: bytes,
                                                expected: list[int]) -> None:
    for extensible in (False, True):
        audio = read_wav(riff(PCM, 1, 16000, bits, data, extensible), 60)
        assert samples(audio.pcm) == expected


def test_float_samples_are_scaled_and_clipped() -> None:
    values = array("f", [0.5, -1.0, 2.0, float("-inf")])
    out = samples(read_wav(riff(FLOAT, 1, 16000, 32, values.tobytes()), 60).pcm)
    assert out == [16383, -32767, 32767, -32767]
    doubles = array("d", [0.25, -0.25]).tobytes()
    assert samples(read_wav(riff(FLOAT, 1, 16000, 64, doubles), 60).pcm) == [8191, -8191]


def test_other_chunks_and_a_streamed_data_size_are_read() -> None:
    wav = riff(PCM, 1, 16000, 16, s16(7, 8, 9), extra=b"LIST\x03\x00\x00\x00abc\x00")
    assert samples(read_wav(wav, 60).pcm) == [7, 8, 9]
    # A WAV written as a stream says its data runs to 0xFFFFFFFF bytes: it is the rest.
    streamed = wav[:-10] + b"\xff\xff\xff\xff" + wav[-6:]
    assert samples(read_wav(streamed, 60).pcm) == [7, 8, 9]


def test_a_partial_last_frame_is_dropped() -> None:
    assert samples(read_wav(riff(PCM, 2, 16000, 16, s16(4, 6, 8)), 60).pcm) == [5]


@pytest.mark.parametrize("wav, message", [
    (b"RIFF\x00\x00\x00\x00WAVEfmt \x02\x00\x00\x00\x01\x00data\x00\x00\x00\x00",
     "fmt chunk is cut short"),
    (riff(PCM, 1, 16000, 12, s16(1, 2)), "audio is 12-bit PCM"),
    (riff(FLOAT, 1, 16000, 16, s16(1, 2)), "audio is 16-bit float"),
    (riff(0x55, 1, 16000, 16, s16(1, 2)), "audio is MP3"),
    (riff(0x1234, 1, 16000, 16, s16(1, 2)), "audio is encoding 0x1234"),
    (riff(PCM, 0, 16000, 16, s16(1, 2)), "says 0 channel(s) at 16000 Hz"),
    (riff(PCM, 1, 400000, 16, s16(1, 2)), "says 1 channel(s) at 400000 Hz"),
])
def test_unreadable_formats_are_refused(wav: bytes, message: str) -> None:
    with pytest.raises(BadAudio, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_wav(wav, 60)


def test_the_length_limit_counts_the_samples_there_are() -> None:
    two_seconds = riff(PCM, 1, 8000, 16, bytes(32000))
    assert read_wav(two_seconds, 2.0).seconds == 2.0
    with pytest.raises(BadAudio, match="the audio is 2.0 s long and the recognizer takes at "
                                       "most 1.5 s") as caught:
        read_wav(two_seconds, 1.5)
    assert caught.value.http_status == 413

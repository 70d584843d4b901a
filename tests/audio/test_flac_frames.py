"""The FLAC frame CRC scanner, on real FLAC encoded by libsndfile (no mocks)."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from functools import cache

import fastcrc
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from slskdn.audio.flac_frames import FrameScan, first_frame_offset, scan_frames, stream_seconds
from slskdn.testing.signals import music


@dataclass(frozen=True)
class Flac:
    data: bytes
    starts: tuple[int, ...]  # every frame start, from an oracle independent of the scanner


def frame_starts(data: bytes, first: int) -> tuple[int, ...]:
    """Frame starts by CRC-16 alone: the next start is the first sync that closes a good frame."""
    starts = [first]
    sync = data[first : first + 2]
    at = data.find(sync, first + 2)
    while at >= 0:
        if fastcrc.crc16.umts(data[starts[-1] : at]) == 0:
            starts.append(at)
        at = data.find(sync, at + 1)
    assert fastcrc.crc16.umts(data[starts[-1] :]) == 0  # the last frame runs to the end
    return tuple(starts)


@cache
def encode(sample_rate: int = 44100, subtype: str = "PCM_16", seconds: float = 4.0) -> Flac:
    """A few seconds of the project's seeded test music (melody plus shaped noise) as FLAC."""
    buf = io.BytesIO()
    audio = music(seconds, sample_rate=sample_rate, seed=7)
    sf.write(buf, audio, sample_rate, format="FLAC", subtype=subtype)
    data = buf.getvalue()
    first = first_frame_offset(data)
    assert first is not None
    return Flac(data, frame_starts(data, first))


FORMATS = [(44100, "PCM_16"), (48000, "PCM_24")]


@pytest.fixture(params=FORMATS, ids=lambda f: f"{f[0]}-{f[1]}")
def flac(request: pytest.FixtureRequest) -> Flac:
    rate, subtype = request.param
    return encode(rate, subtype)


def xor(data: bytes, start: int, count: int) -> bytes:
    out = bytearray(data)
    for i in range(start, start + count):
        out[i] ^= 0x5A
    return bytes(out)


def scan_from(data: bytes, offset: int, *, synced: bool) -> FrameScan:
    return scan_frames(data[offset:], offset, synced=synced)


def scan_in_pieces(data: bytes, offset: int, splits: list[int], *, synced: bool) -> FrameScan:
    """Feed [checked_to, next split) each time, as a download would as bytes arrive."""
    at, bad = offset, list[tuple[int, int]]()
    for split in [*sorted(s for s in splits if s > offset), len(data)]:
        scan = scan_frames(data[at:split], at, synced=synced)
        assert scan.checked_to >= at
        at, synced = scan.checked_to, scan.synced
        bad.extend(scan.bad)
    return FrameScan(at, synced, tuple(bad))


# --- first_frame_offset ------------------------------------------------------------------


def test_first_frame_offset_is_just_after_the_last_metadata_block(flac: Flac) -> None:
    first = flac.starts[0]
    assert flac.data[first : first + 2] == b"\xff\xf8"
    # libsndfile writes STREAMINFO (34 bytes) then a last VORBIS_COMMENT block.
    assert flac.data[4] == 0x00 and flac.data[42] == 0x84
    # The block headers alone tell where audio starts, not the last block's body.
    assert first_frame_offset(flac.data[:46]) == first
    assert first_frame_offset(flac.data[:45]) is None
    assert first_frame_offset(flac.data[:4]) is None


def test_first_frame_offset_walks_every_block() -> None:
    head = b"fLaC" + b"\x00\x00\x00\x22" + bytes(34)  # STREAMINFO
    head += b"\x01\x00\x01\x00" + bytes(256)  # PADDING, 256 bytes
    head += b"\x86\x00\x00\x05"  # last: a 5-byte PICTURE, body not given
    assert first_frame_offset(head) == len(head) + 5


def test_first_frame_offset_skips_an_id3v2_tag() -> None:
    flac = encode()
    size = 300
    syncsafe = bytes((size >> s) & 0x7F for s in (21, 14, 7, 0))
    tag = b"ID3\x04\x00\x00" + syncsafe + b"\x00" * size
    assert first_frame_offset(tag + flac.data) == len(tag) + flac.starts[0]
    footer = b"ID3\x04\x00\x10" + syncsafe + b"\x00" * size + b"3DI" + b"\x00" * 7
    assert first_frame_offset(footer + flac.data) == len(footer) + flac.starts[0]


@pytest.mark.parametrize(
    "head", [b"", b"not flac", b"ID3", b"ID3\x04\x00\x00\xff\xff\xff\xff", b"fLaC\x01\x00\x00\x22"]
)  # PADDING first: no STREAMINFO
def test_first_frame_offset_is_none_for_what_is_not_flac(head: bytes) -> None:
    assert first_frame_offset(head) is None


@pytest.mark.parametrize(("rate", "seconds"), [(44100, 4.0), (48000, 2.5)])
def test_stream_seconds_reads_the_duration_libflac_wrote(rate: int, seconds: float) -> None:
    data = encode(rate, "PCM_16", seconds).data
    assert stream_seconds(data[:42]) == seconds
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10)
    assert stream_seconds(tag + data[:42]) == seconds
    assert stream_seconds(data[:25]) is None  # STREAMINFO cut inside its sample count
    assert stream_seconds(b"not flac") is None


# --- good files ----------------------------------------------------------------------------


def test_a_good_file_has_no_bad_frame_and_is_checked_to_its_last_frame(flac: Flac) -> None:
    assert len(flac.starts) > 20
    assert scan_from(flac.data, flac.starts[0], synced=True) == FrameScan(flac.starts[-1], True, ())


def test_scanning_in_pieces_reaches_the_same_frame(flac: Flac) -> None:
    rng = np.random.default_rng(1)
    splits = [int(s) for s in rng.integers(0, len(flac.data), size=40)]
    splits += [flac.starts[5], flac.starts[9] + 1, flac.starts[12] - 1]  # at and around starts
    result = scan_in_pieces(flac.data, flac.starts[0], splits, synced=True)
    assert result == FrameScan(flac.starts[-1], True, ())


def test_an_unaligned_start_syncs_on_a_real_frame(flac: Flac) -> None:
    middle = flac.starts[len(flac.starts) // 2]
    result = scan_from(flac.data, middle + 1234, synced=False)
    assert result == FrameScan(flac.starts[-1], True, ())
    # A shorter span stops at a real frame start too: the last one whose successor's whole
    # header it holds (a truncated header ends no frame).
    offset = middle + 1234
    for tail, last in ((16, flac.starts[-5]), (3, flac.starts[-6])):
        short = scan_frames(flac.data[offset : flac.starts[-5] + tail], offset, synced=False)
        assert short == FrameScan(last, True, ())


def test_a_span_too_short_to_confirm_sync_stays_unsynced(flac: Flac) -> None:
    i = len(flac.starts) // 2
    start = flac.starts[i] + 100
    assert scan_frames(flac.data[start : flac.starts[i + 2]], start, synced=False) == FrameScan(
        start, False, ()
    )


def test_per_frame_stereo_decorrelation_does_not_break_the_stream() -> None:
    # libFLAC picks left/side, mid/side... per frame: only the channel count is the stream's.
    rng = np.random.default_rng(3)
    left = rng.standard_normal(44100 * 3) * 0.2
    right = rng.standard_normal(len(left)) * 0.02
    for i in range(0, len(left), 8192):
        right[i : i + 4096] = left[i : i + 4096]
    buf = io.BytesIO()
    sf.write(buf, np.stack([left, right], 1), 44100, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    first = first_frame_offset(data)
    assert first is not None
    starts = frame_starts(data, first)
    assert len({data[s + 3] >> 4 for s in starts}) > 1
    assert scan_from(data, first, synced=True) == FrameScan(starts[-1], True, ())
    # Each frame is still delimited by its own successor (two good frames in a row also pass
    # CRC-16, so a skipped header would only show as a coarser span around a bad frame).
    i = len(starts) // 2
    damaged = xor(data, starts[i] + 100, 2)
    assert scan_from(damaged, first, synced=True).bad == ((starts[i], starts[i + 1]),)


def test_bytes_bytearray_and_memoryview_scan_alike() -> None:
    flac = encode()
    first = flac.starts[0]
    expected = FrameScan(flac.starts[-1], True, ())
    for data in (flac.data[first:], bytearray(flac.data[first:]), memoryview(flac.data)[first:]):
        assert scan_frames(data, first, synced=True) == expected


# --- damage ------------------------------------------------------------------------------


def test_corrupt_payload_reports_exactly_its_frame(flac: Flac) -> None:
    i = len(flac.starts) // 2
    start, end = flac.starts[i], flac.starts[i + 1]
    data = xor(flac.data, (start + end) // 2, 4)
    expected = FrameScan(flac.starts[-1], True, ((start, end),))
    assert scan_from(data, flac.starts[0], synced=True) == expected
    assert scan_in_pieces(data, flac.starts[0], [start + 10, end - 10, end + 3], synced=True) == (
        expected
    )


def test_a_corrupt_header_reports_its_frame_with_the_previous_one(flac: Flac) -> None:
    i = len(flac.starts) // 2
    data = xor(flac.data, flac.starts[i] + 2, 2)  # block size/rate, channels/sample size
    result = scan_from(data, flac.starts[0], synced=True)
    # Without its header, frame i is indistinguishable from the tail of frame i - 1.
    assert result == FrameScan(flac.starts[-1], True, ((flac.starts[i - 1], flac.starts[i + 1]),))


def test_a_corrupt_header_at_a_synced_start_is_reported(flac: Flac) -> None:
    i = len(flac.starts) // 2
    data = xor(flac.data, flac.starts[i] + 4, 1)  # the coded frame number
    result = scan_from(data, flac.starts[i], synced=True)
    assert result == FrameScan(flac.starts[-1], True, ((flac.starts[i], flac.starts[i + 1]),))


def test_corruption_before_the_first_whole_frame_is_not_reported_but_after_it_is(
    flac: Flac,
) -> None:
    i = len(flac.starts) // 3
    offset = flac.starts[i] + 500  # mid-frame: the span starts unsynced
    late_start, late_end = flac.starts[i + 6], flac.starts[i + 7]
    data = xor(flac.data, offset + 40, 8)  # in the partial frame: nobody can judge it
    data = xor(data, late_start + 700, 3)
    result = scan_from(data, offset, synced=False)
    assert result == FrameScan(flac.starts[-1], True, ((late_start, late_end),))


def test_a_span_whose_every_frame_is_wrong_is_reported_from_its_first_whole_frame(
    flac: Flac,
) -> None:
    # A different copy from some offset on: no frame passes, yet the headers still chain
    # (numbers one after another), which proves where the frames are.
    i = len(flac.starts) // 3
    offset = flac.starts[i] + 500
    data = flac.data
    for k in range(i + 1, i + 8):
        data = xor(data, flac.starts[k] + 40, 4)
    result = scan_from(data, offset, synced=False)
    expected = tuple((flac.starts[k], flac.starts[k + 1]) for k in range(i + 1, i + 8))
    assert result == FrameScan(flac.starts[-1], True, expected)


def test_a_damaged_first_frame_only_delays_sync(flac: Flac) -> None:
    i = len(flac.starts) // 3
    data = xor(flac.data, flac.starts[i + 1] + 2, 2)  # the first header of the span
    result = scan_from(data, flac.starts[i] + 50, synced=False)
    assert result == FrameScan(flac.starts[-1], True, ())


def test_bytes_that_stop_being_flac_are_reported_from_the_last_frame_start(flac: Flac) -> None:
    # An unfinished copy: zeros from the middle of frame i on, same size.
    i = len(flac.starts) // 2
    start, end = flac.starts[i], flac.starts[i + 1]
    cut = (start + end) // 2
    data = flac.data[:cut] + bytes(len(flac.data) - cut)
    result = scan_from(data, flac.starts[0], synced=True)
    assert result.checked_to == start and result.synced
    ((a, b),) = result.bad
    longest = max(y - x for x, y in itertools.pairwise(flac.starts))
    assert a == start and longest < b - a <= 64 * 1024
    # As the zeros arrive, nothing is said until a frame could not be that long.
    assert scan_in_pieces(data, flac.starts[0], [cut + 100, b - 100], synced=True) == result
    assert scan_frames(data[start:b], start, synced=True) == FrameScan(start, True, ())


def test_the_last_frame_of_the_file_is_not_mistaken_for_one_that_never_ends(flac: Flac) -> None:
    last = flac.starts[-1]
    assert scan_from(flac.data, last, synced=True) == FrameScan(last, True, ())
    # An ID3v1 tag after it (128 bytes) is no frame either, but far too short to judge.
    tagged = flac.data + b"TAG" + bytes(125)
    assert scan_from(tagged, flac.starts[-3], synced=True) == FrameScan(last, True, ())


# --- a variable-blocksize stream -----------------------------------------------------------


def coded_number(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = next(m for m in range(2, 8) if n < 1 << (5 * m + 1))
    tail = [0x80 | (n >> (6 * k)) & 0x3F for k in reversed(range(size - 1))]
    return bytes([(0xFF00 >> size) & 0xFF | n >> (6 * (size - 1)), *tail])


def to_variable_blocking(flac: Flac) -> Flac:
    """Rewrite a fixed-blocksize stream's headers to carry sample numbers (as FF F9 streams do)."""
    out = bytearray(flac.data[: flac.starts[0]])
    starts, sample = [], 0
    bounds = [*flac.starts, len(flac.data)]
    for start, end in itertools.pairwise(bounds):
        frame = flac.data[start:end]
        ones = 8 - (frame[4] ^ 0xFF).bit_length()
        rest = 4 + max(ones, 1)
        bs_code, rate_code = frame[2] >> 4, frame[2] & 0x0F
        bs_len = {6: 1, 7: 2}.get(bs_code, 0)
        extra = frame[rest : rest + bs_len + {12: 1, 13: 2, 14: 2}.get(rate_code, 0)]
        header = b"\xff\xf9" + frame[2:4] + coded_number(sample) + extra
        header += bytes([fastcrc.crc8.smbus(header)])
        body = header + frame[rest + len(extra) + 1 : -2]
        starts.append(len(out))
        out += body + fastcrc.crc16.umts(body).to_bytes(2, "big")
        assert bs_code in (6, 7) or bs_code >= 8  # what libFLAC writes
        sample += int.from_bytes(extra[:bs_len], "big") + 1 if bs_len else 256 << (bs_code - 8)
    return Flac(bytes(out), tuple(starts))


def test_a_variable_blocksize_stream_is_followed_by_sample_number() -> None:
    flac = to_variable_blocking(encode(seconds=40.0))  # past 2^16 samples: long coded numbers
    assert frame_starts(flac.data, flac.starts[0]) == flac.starts
    assert scan_from(flac.data, flac.starts[0], synced=True) == FrameScan(flac.starts[-1], True, ())
    i = len(flac.starts) // 2
    data = xor(flac.data, flac.starts[i] + 300, 2)
    assert scan_from(data, flac.starts[i - 3] + 7, synced=False) == FrameScan(
        flac.starts[-1], True, ((flac.starts[i], flac.starts[i + 1]),)
    )


# --- garbage -------------------------------------------------------------------------------


@pytest.mark.parametrize("synced", [True, False])
def test_garbage_and_empty_input_find_nothing(synced: bool) -> None:
    rng = np.random.default_rng(5)
    frame = encode().data[encode().starts[3] :][:16]  # a valid header, then some payload
    inputs = [
        b"",
        b"\xff",
        b"\xff\xf8",
        bytes(1000),
        b"\xff" * 100_000,
        b"\xff\xf8" * 100_000,
        rng.integers(0, 256, size=1 << 20, dtype=np.uint8).tobytes(),
    ]
    for data in inputs:
        assert scan_frames(data, 1000, synced=synced) == FrameScan(1000, synced, ())
    # The same valid header over and over never has a successor: unsynced, nothing is found;
    # from a known frame start, that frame never ends.
    repeated = scan_frames(frame * 5_000, 1000, synced=synced)
    assert repeated.checked_to == 1000 and repeated.synced == synced
    assert [a for a, _ in repeated.bad] == ([1000] if synced else [])


# --- property ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    start=st.floats(0.0, 1.0),
    splits=st.lists(st.floats(0.0, 1.0), max_size=12),
)
def test_a_good_file_never_has_a_bad_frame(
    fmt: tuple[int, str], start: float, splits: list[float]
) -> None:
    flac = encode(*fmt)
    first, size = flac.starts[0], len(flac.data)
    offset = first + int(start * (size - first))
    cuts = [int(s * size) for s in splits]
    result = scan_in_pieces(flac.data, offset, cuts, synced=offset == first)
    assert result.bad == ()
    assert result.checked_to == offset or result.checked_to in flac.starts
    if offset <= flac.starts[-2]:
        assert result == FrameScan(flac.starts[-1], True, ())

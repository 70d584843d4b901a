"""FLAC frame CRC scanner: judge a peer's bytes as they arrive, with no reference copy.

Every FLAC frame ends with a CRC-16 of itself and every frame header with a CRC-8 of the
header, so a frame that lies wholly inside one peer's bytes and fails its CRC-16 proves that
peer sent wrong bytes (or the file is damaged there). Frame boundaries are only known from
headers (RFC 9639 section 9.1), so the last frame in a span is judged only when no header
follows it where one must (a frame cannot be longer than its samples stored verbatim): the
bytes after a frame start then are no FLAC at all (zeros of an unfinished copy, another
file's bytes), which no CRC could show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice

from fastcrc import crc8, crc16

MAX_FRAME = 1 << 20  # FLAC frames are < 64 KiB in practice; 16 MiB only in theory
MIN_FRAME = 10  # header (6) + one 1-byte constant subframe (2) + CRC-16 (2)
MAX_HEADER = 16  # 4 + coded number (7) + block size (2) + sample rate (2) + CRC-8 (1)
LOOKAHEAD = 3  # successors tried before a CRC failure is blamed on the frame, not its end
# Caps on sync patterns looked at: real payload holds ~1 spurious pattern per 32 KiB, so these
# only bite on crafted input (e.g. a valid header repeated), which must not cost minutes.
MAX_CANDIDATES = 4096  # per search for the next header (a 64 KiB frame of them)
MAX_SYNC_CANDIDATES = 1 << 16  # while looking for the first frame of an unsynced span
MAX_SYNC_TRIES = 32  # valid headers tried as that first frame
SYNCS = (b"\xff\xf8", b"\xff\xf9")


@dataclass(frozen=True)
class FrameScan:
    """Where whole-frame checking got to in a span, and the frames that failed CRC-16."""

    checked_to: int  # a confirmed frame start when synced, else the span's start
    synced: bool  # checked_to is a confirmed frame start
    bad: tuple[tuple[int, int], ...]  # [start, end) file offsets of frames failing CRC-16


@dataclass(frozen=True, slots=True)
class _Header:
    pos: int
    end: int  # just past the CRC-8
    number: int  # frame number (fixed blocking) or first sample number (variable)
    block_size: int
    stream: tuple[int, int, int, int]  # sync bytes, rate code, channel count, sample size code


def _block_size(code: int, extra: bytes) -> int:
    if code == 1:
        return 192
    if code <= 5:
        return 576 << (code - 2)
    if code >= 8:
        return 256 << (code - 8)
    return int.from_bytes(extra, "big") + 1


def _parse(buf: bytes | bytearray, pos: int) -> _Header | None:
    """The frame header at `pos`, or None unless every field is valid and the CRC-8 matches."""
    head = bytes(buf[pos : pos + MAX_HEADER])
    if len(head) < 6 or head[0] != 0xFF or head[1] & 0xFE != 0xF8:
        return None
    bs_code, rate_code = head[2] >> 4, head[2] & 0x0F
    channels_code, size_code = head[3] >> 4, (head[3] >> 1) & 0x07
    if bs_code == 0 or rate_code == 15 or channels_code > 10 or size_code == 3 or head[3] & 1:
        return None
    first = head[4]
    ones = 8 - (first ^ 0xFF).bit_length()  # leading 1 bits give the coded number's length
    if ones == 1 or ones == 8 or (ones == 7 and not head[1] & 1):
        return None  # a bare continuation byte, 0xFF, or > 31 bits for a frame number
    length = max(ones, 1)
    number = first & (0x7F >> ones)
    for byte in head[5 : 4 + length]:
        if byte & 0xC0 != 0x80:
            return None
        number = number << 6 | byte & 0x3F
    pos_extra = 4 + length
    bs_len = {6: 1, 7: 2}.get(bs_code, 0)
    rate_len = {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
    crc_at = pos_extra + bs_len + rate_len
    if crc_at >= len(head) or crc8.smbus(head[:crc_at]) != head[crc_at]:
        return None
    block_size = _block_size(bs_code, head[pos_extra : pos_extra + bs_len])
    if block_size > 0xFFFF:
        return None
    # Stereo decorrelation (left/side, side/right, mid/side) may change frame to frame:
    # only the channel count is the stream's.
    channels = channels_code + 1 if channels_code < 8 else 2
    stream = (head[1], rate_code, channels, size_code)
    return _Header(pos, pos + crc_at + 1, number, block_size, stream)


def _headers(
    buf: bytes | bytearray, start: int, stop: int, syncs: tuple[bytes, ...], limit: int
) -> Iterator[_Header]:
    """Valid headers starting in [start, stop), in order, among the first `limit` syncs."""
    found = {sync: buf.find(sync, start, stop + 1) for sync in syncs}
    for _ in range(limit):
        at = min((where for where in found.values() if where >= 0), default=-1)
        if at < 0:
            return
        header = _parse(buf, at)
        if header is not None:
            yield header
        # Search on only when asked: the caller usually stops at the first good header.
        for sync, where in found.items():
            if where == at:
                found[sync] = buf.find(sync, at + 1, stop + 1)


def _successors(buf: bytes | bytearray, h: _Header) -> Iterator[_Header]:
    """Headers that can start a frame after `h`'s: same stream, a later frame or sample."""
    sync = bytes(buf[h.pos : h.pos + 2])
    stop = min(len(buf), h.pos + MAX_FRAME)
    for c in _headers(buf, h.end, stop, (sync,), MAX_CANDIDATES):
        most_frames = (c.pos - h.pos) // MIN_FRAME
        step = c.number - h.number
        if c.stream != h.stream:
            continue
        if h.stream[0] & 1:  # variable blocking: numbers count samples
            if h.block_size <= step <= most_frames * 0xFFFF:
                yield c
        elif 1 <= step <= most_frames:
            yield c


def _crc_ok(view: memoryview, start: int, end: int) -> bool:
    # Non-reflected, no final xor: the CRC over the frame and its own CRC is zero.
    return crc16.umts(view[start:end]) == 0


def _judge(view: memoryview, buf: bytes | bytearray, h: _Header) -> tuple[_Header, bool] | None:
    """(the next frame's header, `h`'s frame passed CRC-16), or None if no next header yet.

    A spurious header inside the payload would cut the frame short and fail it, so a failure
    is only blamed on the frame when no later successor closes a passing frame either.
    """
    successors = _successors(buf, h)
    first = next(successors, None)
    if first is None:
        return None
    for c in chain((first,), islice(successors, LOOKAHEAD - 1)):  # lazily: rarely needed
        if _crc_ok(view, h.pos, c.pos):
            return c, True
    return first, False


def _next_in_line(buf: bytes | bytearray, h: _Header) -> _Header | None:
    """`h`'s first successor if it is the very next frame (no frame number skipped)."""
    c = next(_successors(buf, h), None)
    if c is None:
        return None
    step = h.block_size if h.stream[0] & 1 else 1  # variable blocking counts samples
    return c if c.number - h.number == step else None


def _sync(view: memoryview, buf: bytes | bytearray, start: int) -> _Header | None:
    """The first header at or after `start` that is surely a frame start: its frame passes
    its CRC-16, or it begins a run of three headers numbered one after another (a span whose
    every frame is wrong — a different copy from some offset on — never passes a CRC, and
    three chained headers do not occur by chance in audio payload)."""
    tries = _headers(buf, start, len(buf), SYNCS, MAX_SYNC_CANDIDATES)
    for h in islice(tries, MAX_SYNC_TRIES):
        judged = _judge(view, buf, h)
        if judged is not None and judged[1]:
            return h
        second = _next_in_line(buf, h)
        if second is not None and _next_in_line(buf, second) is not None:
            return h
    return None


def scan_frames(data: bytes | bytearray | memoryview, offset: int, *, synced: bool) -> FrameScan:
    """Check the whole frames in `data`, which holds the file's bytes [offset, offset+len(data)).

    `synced`: `offset` is known to be a frame start (from an earlier scan, or
    first_frame_offset). The last frame in `data` is not judged (its end is only known from
    the next header), so checked_to is the last frame start found — unless no header follows
    within `longest_frame` of it: then that stretch is reported bad.
    """
    buf = data if isinstance(data, bytes | bytearray) else bytes(data)
    bad: list[tuple[int, int]] = []
    with memoryview(buf) as view:
        h = _parse(buf, 0) if synced else None
        if h is None:
            if synced and len(buf) < MAX_HEADER:
                return FrameScan(offset, True, ())  # too short to tell the header is broken
            h = _sync(view, buf, 1 if synced else 0)
            if h is None:
                return FrameScan(offset, synced, ())
            if synced:  # a known frame start with no valid header: its bytes are wrong
                bad.append((offset, offset + h.pos))
        while (judged := _judge(view, buf, h)) is not None:
            nxt, ok = judged
            if not ok:
                bad.append((offset + h.pos, offset + nxt.pos))
            h = nxt
        longest = longest_frame(h)
        if longest is not None and len(buf) - h.pos >= longest + MAX_HEADER:
            # No next header where one must be: the frame's bytes run on into something that
            # is no FLAC (zeros of an unfinished copy, another file's bytes).
            bad.append((offset + h.pos, offset + h.pos + longest))
    return FrameScan(offset + h.pos, True, tuple(bad))


@dataclass(frozen=True)
class Layout:
    """What every frame of one FLAC stream shares: its header's stream fields, and more bytes
    than any of its frames can take (so any stretch of the audio that long holds a header)."""

    stream: tuple[int, int, int, int]
    longest: int


def frame_layout(data: bytes | bytearray) -> Layout | None:
    """The layout of the stream whose frame header starts `data` (None: no valid header, or
    frames too large to bound). A variable-blocksize stream is bounded by its largest block."""
    h = _parse(data, 0)
    if h is None:
        return None
    longest = longest_frame(h if not h.stream[0] & 1 else _Header(0, 0, 0, 0xFFFF, h.stream))
    return Layout(h.stream, longest) if longest is not None else None


def has_header(data: bytes | bytearray | memoryview, layout: Layout) -> bool:
    """Whether a valid frame header of that stream starts anywhere in `data`."""
    buf = data if isinstance(data, bytes | bytearray) else bytes(data)
    sync = bytes([0xFF, layout.stream[0]])
    return any(h.stream == layout.stream and h.end <= len(buf)
               for h in _headers(buf, 0, len(buf), (sync,), MAX_SYNC_CANDIDATES))


_BITS = {1: 8, 2: 12, 4: 16, 5: 20, 6: 24, 7: 32}  # sample size codes; 0: see STREAMINFO


def longest_frame(h: _Header) -> int | None:
    """More bytes than the frame starting with `h` can take (None: too many to judge).

    An encoder stores a subframe verbatim rather than let it grow past that: the header, the
    samples at full width (a side channel one bit wider) and each subframe's header with its
    wasted-bits count, plus the CRC-16 — with an eighth more for encoders we never met.
    """
    bits = _BITS.get(h.stream[3], 32)
    channels = h.stream[2]
    payload = channels * (8 + bits + h.block_size * (bits + 1))
    bound = (MAX_HEADER + payload // 8 + 1 + 2) * 9 // 8 + 64
    return bound if bound <= MAX_FRAME else None


def first_frame_offset(head: bytes) -> int | None:
    """Where the first audio frame starts, given the file's first bytes.

    `head` is b"fLaC" and the metadata blocks, maybe behind an ID3v2 tag; None if it is too
    short to tell or is not FLAC.
    """
    pos = _metadata_start(head)
    if pos is None:
        return None
    first = True
    while len(head) >= pos + 4:
        kind = head[pos] & 0x7F
        if kind == 127 or (first and kind != 0):  # STREAMINFO must come first
            return None
        first = False
        last = head[pos] & 0x80
        pos += 4 + int.from_bytes(head[pos + 1 : pos + 4], "big")
        if last:
            return pos
    return None


def stream_seconds(head: bytes) -> float | None:
    """The audio's duration from STREAMINFO (total samples / sample rate), given the file's
    first bytes; None if they are too short, not FLAC, or the encoder left it unknown (0)."""
    pos = _metadata_start(head)
    if pos is None or len(head) < pos + 4 + 18 or head[pos] & 0x7F != 0:
        return None
    info = int.from_bytes(head[pos + 4 + 10 : pos + 4 + 18], "big")
    rate, samples = info >> 44, info & ((1 << 36) - 1)  # 20 bits rate, ..., 36 bits samples
    return samples / rate if rate and samples else None


def _metadata_start(head: bytes) -> int | None:
    """Where the metadata blocks start: after b"fLaC", maybe behind an ID3v2 tag."""
    pos = 0
    if head[:3] == b"ID3":
        if len(head) < 10 or any(b & 0x80 for b in head[6:10]):
            return None
        size = 0
        for b in head[6:10]:  # syncsafe: 7 bits a byte
            size = size << 7 | b
        pos = 10 + size + (10 if head[5] & 0x10 else 0)
    if head[pos : pos + 4] != b"fLaC":
        return None
    return pos + 4

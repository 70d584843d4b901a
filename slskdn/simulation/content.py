"""Real bytes for simulated files, corrupt copies of them, and an in-memory part file."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Collection

import numpy as np
import soundfile as sf


def make_content(size: int, seed: int) -> bytes:
    """Deterministic pseudo-random file content."""
    return random.Random(seed).randbytes(size)


_FLAC_RATE = 44100
_flac_stream = b""  # the longest stream encoded so far in this process


def make_flac_content(size: int) -> bytes:
    """``size`` bytes of one real FLAC stream (seeded stereo noise encoded by libFLAC through
    soundfile): its header, then frames whose CRCs hold, cut at ``size`` (the last frame is
    cut short: nothing judges a file's last frame). Encoded once a process, ~2 s per 60 MB."""
    global _flac_stream
    if len(_flac_stream) < size:
        seconds = 64 * -(-size // (64 * 150_000))  # noise at this level: ~162 kB a second
        samples = np.random.default_rng(6).standard_normal((_FLAC_RATE * seconds, 2)) * 6000
        buf = io.BytesIO()
        sf.write(buf, samples.astype(np.int16), _FLAC_RATE, format="FLAC", subtype="PCM_16")
        _flac_stream = buf.getvalue()
        if len(_flac_stream) < size:
            raise ValueError(f"could not encode {size} bytes of FLAC")
    return _flac_stream[:size]


def sha256(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def block_digest(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


class ServedCopy:
    """The bytes one source serves: the true content, except for its corrupt blocks."""

    def __init__(self, content: bytes, block_size: int, corrupt_blocks: Collection[int]) -> None:
        self.content = content
        self.block_size = block_size
        self.corrupt = frozenset(corrupt_blocks)
        self._view = memoryview(content)

    def read(self, start: int, end: int) -> bytes | bytearray | memoryview:
        if not self.corrupt:
            return self._view[start:end]
        first, last = start // self.block_size, (end - 1) // self.block_size
        if not any(b in self.corrupt for b in range(first, last + 1)):
            return self._view[start:end]
        out = bytearray(self._view[start:end])
        for b in range(first, last + 1):
            if b in self.corrupt:
                lo = max(b * self.block_size, start)
                hi = min((b + 1) * self.block_size, end)
                # Flip bits in a way that depends on the offset so every block differs.
                for i in range(lo - start, hi - start, 97):
                    out[i] ^= 0x5A
        return out


class MemoryPartFile:
    """The part file in memory. The first write of a byte wins until it is discarded, exactly
    like the network layer writing into a real part file at offsets."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data = bytearray(size)
        self._written = bytearray(size)  # 1 where a byte has been written
        self.discarded = 0  # bytes written and later thrown away

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> int:
        """Write what is not written yet; returns the number of bytes actually written."""
        end = offset + len(data)
        mask = self._written
        if mask.find(1, offset, end) == -1:  # the common case: nothing there yet
            self.data[offset:end] = data
            mask[offset:end] = b"\x01" * (end - offset)
            return end - offset
        written = 0
        pos = offset
        while pos < end:
            free = mask.find(0, pos, end)
            if free == -1:
                break
            taken = mask.find(1, free, end)
            stop = end if taken == -1 else taken
            self.data[free:stop] = data[free - offset : stop - offset]
            mask[free:stop] = b"\x01" * (stop - free)
            written += stop - free
            pos = stop
        return written

    def read(self, start: int, end: int) -> bytes:
        return bytes(self.data[start:end])

    def sha256(self) -> str:
        return sha256(self.data)

    def block_digests(self, block_size: int) -> dict[int, str]:
        view = memoryview(self.data)
        return {i: block_digest(view[s : s + block_size])
                for i, s in enumerate(range(0, self.size, block_size))}

    def digest(self, start: int, end: int) -> str:
        return block_digest(memoryview(self.data)[start:end])

    def discard(self, start: int, end: int) -> None:
        self.discarded += self._written.count(1, start, end)
        self._written[start:end] = bytes(end - start)

    def complete(self) -> bool:
        return self._written.find(0) == -1

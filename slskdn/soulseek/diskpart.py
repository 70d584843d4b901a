"""The swarm's ``PartFile`` on disk: the part file the streams write into, and what is in it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from .written import WrittenRanges

_READ_CHUNK = 1024 * 1024


class DiskPartFile:
    """``PartFile`` over the real part file on disk, with the port's rule: the *first* write of
    a byte wins until it is discarded.

    The streams write straight into this file; ``written`` (shared by their ``StreamClaim``s)
    keeps each byte of the stream that wrote it first, and ``discard`` forgets bytes so the
    next stream there replaces them (a convicted peer's bytes, a failed whole-file check).
    Reads need no lock: the swarm (on its actor thread) hashes bytes it was told arrived;
    those are written, and stay as they are until it forgets them itself.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = Path(path)
        self.size = size
        self.written = WrittenRanges()

    def prepare(self) -> None:
        """Create the file (never truncating bytes already there) at exactly ``size`` bytes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != self.size:
                os.ftruncate(fd, self.size)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Nothing to release: every stream writes through its own descriptor."""

    def _read(self, start: int, end: int, sink: Callable[[bytes], None]) -> None:
        end = min(end, self.size)
        with open(self.path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                chunk = f.read(min(_READ_CHUNK, left))
                if not chunk:  # shorter than expected: hash zeros like a sparse file
                    chunk = bytes(min(_READ_CHUNK, left))
                sink(chunk)
                left -= len(chunk)

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end) as assembled (a format check reads what arrived)."""
        chunks: list[bytes] = []
        self._read(start, end, chunks.append)
        return b"".join(chunks)

    def sha256(self) -> str:
        h = hashlib.sha256()
        self._read(0, self.size, h.update)
        return h.hexdigest()

    def digest(self, start: int, end: int) -> str:
        h = hashlib.sha256()
        self._read(start, end, h.update)
        return h.hexdigest()

    def block_digests(self, block_size: int) -> dict[int, str]:
        return {i: self.digest(s, s + block_size)
                for i, s in enumerate(range(0, self.size, block_size))}

    def discard(self, start: int, end: int) -> None:
        self.written.forget(start, end)

    def restore(self, start: int, end: int) -> None:
        """Bytes [start, end) are in the file already, from an earlier run (resume): no
        stream writes them again."""
        self.written.restore(start, end)

"""The data path: one stream's bytes written into the shared part file at their offsets.

Several streams (from different peers) write into one part file at once, each through its own
descriptor with ``pwrite`` at absolute offsets, so they never share a file position. The file
is opened read-write and created if missing, never truncated: other ranges may already be in
it. Writing and hashing run in the default executor (hashlib releases the GIL on large
buffers), so a slow disk does not stall the network loop; each stream awaits its previous
write before the next, so its bytes stay in order.

With a ``StreamClaim`` (the swarm's case) the first write of a byte wins: the stream stores
only the bytes no other stream of the file has written (``written``), but hashes everything it
received — its block digests are how peers are cross-checked. Without one every byte is
written (the last write wins), which is what a single range wants.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from .written import StreamClaim


class BlockHasher:
    """SHA-256 of the whole aligned blocks a stream covers, starting at its first boundary.

    A stream that starts mid-block skips that partial block; the last block of the file may
    be shorter than ``block_size`` and counts once the stream reaches ``file_size``.
    """

    def __init__(self, block_size: int, start: int, file_size: int) -> None:
        if block_size <= 0:
            raise ValueError("block_size must be positive")
        self.block_size = block_size
        self.file_size = file_size
        self._position = start
        self._current: hashlib._Hash | None = hashlib.sha256() if start % block_size == 0 else None

    def feed(self, data: memoryview) -> list[tuple[int, str]]:
        done: list[tuple[int, str]] = []
        bs = self.block_size
        while data:
            index = self._position // bs
            block_end = min((index + 1) * bs, self.file_size)
            n = min(len(data), block_end - self._position)
            if n <= 0:  # bytes past the announced file size: not part of any block
                break
            if self._current is not None:
                self._current.update(data[:n])
            self._position += n
            data = data[n:]
            if self._position == block_end:
                if self._current is not None:
                    done.append((index, self._current.hexdigest()))
                self._current = hashlib.sha256()
        return done


class RangeWriter:
    """Writes a stream that starts at ``start`` into ``path``; tracks position and SHA-256.

    ``position`` counts every byte received; ``stored`` only those this stream wrote (less than
    ``written`` when a ``claim`` found some already written by another stream).
    """

    def __init__(self, path: Path, start: int, *, block_size: int | None = None,
                 file_size: int | None = None, claim: StreamClaim | None = None) -> None:
        self.path = path
        self.start = start
        self.position = start
        self.stored = 0
        self._claim = claim
        self._sha = hashlib.sha256()
        self._blocks = (BlockHasher(block_size, start, file_size)
                        if block_size and file_size is not None else None)
        self._fd: int | None = None
        self._pending: asyncio.Future[list[tuple[int, str]]] | None = None

    @property
    def written(self) -> int:
        return self.position - self.start

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_CREAT without O_TRUNC: the part file is shared by every range of the file.
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    async def write(self, data: bytes) -> list[tuple[int, str]]:
        """Write ``data`` at the current position; returns integrity blocks it completed.

        Cancelling the caller does not stop a write already handed to the executor thread;
        ``aclose`` waits for it, so the descriptor is never closed under it.
        """
        if self._fd is None:
            raise RuntimeError("part file is not open")
        loop = asyncio.get_running_loop()
        self._pending = loop.run_in_executor(None, self._write_sync, self._fd, self.position,
                                             data)
        blocks = await asyncio.shield(self._pending)
        self.position += len(data)
        return blocks

    def _write_sync(self, fd: int, offset: int, data: bytes) -> list[tuple[int, str]]:
        view = memoryview(data)
        if self._claim is not None:
            self.stored += self._claim.write(fd, offset, view)
        else:
            done = 0
            while done < len(view):  # pwrite may write less than asked (e.g. near a quota)
                done += os.pwrite(fd, view[done:], offset + done)
            self.stored += len(view)
        self._sha.update(view)
        return self._blocks.feed(view) if self._blocks is not None else []

    def sha256(self) -> str | None:
        return self._sha.hexdigest() if self.written else None

    async def aclose(self) -> None:
        if self._pending is not None and not self._pending.done():
            await asyncio.wait({self._pending})
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

"""The swarm's ``RangeTransport`` on real Soulseek peers, and its ``PartFile`` on disk.

One ``SoulseekRangeTransport`` serves one file (one remote path per source) written into one
part file. The swarm session calls it from the SwarmDriver actor thread; every call is
marshalled onto the asyncio loop thread with ``call_soon_threadsafe`` and returns at once
(``request`` allocates its id locally, so it never waits for the loop). The ranged handles of
``RangedTransferManager`` report back on the loop thread; their reports go to the
``TransferListener`` (a ``SwarmListener`` that only tells). ``now`` in every callback is
``time.monotonic()``: the driver's ticks must use the same clock.

Mapping of the two-phase handle to the port:

- ``negotiate(source)`` → ``session.negotiate(user, path, part, expected_size, block_size)``;
  READY → ``on_ready``;
- ``request(source, a, b)`` → ``handle.request(a, b)``; progress → the stream's new bytes are
  committed to the part file (first write wins, see ``DiskPartFile``), then ``on_progress``
  with the whole aligned blocks the stream hashed as (start, end, sha256) triples;
- ``set_end`` / ``cancel`` / ``release`` → ``handle.set_end`` / ``handle.cancel``;
- the outcome → ``on_complete`` (no error) or ``on_failed`` (an error); nothing after
  ``cancel`` or ``release``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slskdn.domain.swarm.ports import TransferListener
from slskdn.logs import get_logger

from .client import SoulseekSession
from .ranges import RangeConflictError, RangeError, RangeOutcome, RangeProgress, RangeStateError
from .transfer import PeerTransfer

log = get_logger(__name__)

_READ_CHUNK = 1024 * 1024

# Failures after which asking the same peer again is pointless for this file.
PERMANENT_ERRORS = frozenset(
    {RangeError.REJECTED, RangeError.UNREACHABLE, RangeError.SIZE_MISMATCH,
     RangeError.BAD_RANGE, RangeError.WRITE_ERROR}
)


class WrittenRanges:
    """Sorted, merged [start, end) intervals of bytes already in the part file."""

    def __init__(self) -> None:
        self._spans: list[tuple[int, int]] = []

    def gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of [start, end) not written yet."""
        out: list[tuple[int, int]] = []
        pos = start
        for a, b in self._spans:
            if b <= pos:
                continue
            if a >= end:
                break
            if a > pos:
                out.append((pos, a))
            pos = max(pos, b)
            if pos >= end:
                break
        if pos < end:
            out.append((pos, end))
        return out

    def add(self, start: int, end: int) -> None:
        spans = [(a, b) for a, b in self._spans if b < start or a > end]
        merged = [(a, b) for a, b in self._spans if not (b < start or a > end)]
        lo = min([start, *(a for a, _ in merged)])
        hi = max([end, *(b for _, b in merged)])
        spans.append((lo, hi))
        self._spans = sorted(spans)

    def remove(self, start: int, end: int) -> None:
        out: list[tuple[int, int]] = []
        for a, b in self._spans:
            if b <= start or a >= end:
                out.append((a, b))
                continue
            if a < start:
                out.append((a, start))
            if b > end:
                out.append((end, b))
        self._spans = out

    def total(self) -> int:
        return sum(b - a for a, b in self._spans)


class DiskPartFile:
    """``PartFile`` over the real part file on disk, with the port's rule: the *first* write of
    a byte wins until it is discarded.

    The ranged data path writes each stream's bytes with ``pwrite`` (last write wins), so the
    transport gives every stream its own sparse *stream file* and commits what a stream
    reports into this file, skipping bytes already written. Without this, a racing or
    overlapping stream could overwrite bytes the swarm credits to another source, and the
    whole-file trace could convict the wrong peer.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = Path(path)
        self.size = size
        self.written = WrittenRanges()
        self._lock = threading.Lock()  # commit (loop thread) vs discard (actor thread)
        self._fd: int | None = None

    def prepare(self) -> None:
        """Create the file (never truncating bytes already there) at exactly ``size`` bytes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size != self.size:
            os.ftruncate(self._fd, self.size)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def commit(self, source: Path, start: int, end: int) -> int:
        """Copy [start, end) from a stream file where not written yet; returns bytes copied."""
        copied = 0
        with self._lock:
            if self._fd is None:
                raise RuntimeError("part file is not open")
            gaps = self.written.gaps(start, min(end, self.size))
            if not gaps:
                return 0
            src = os.open(source, os.O_RDONLY)
            try:
                for a, b in gaps:
                    pos = a
                    while pos < b:
                        data = os.pread(src, min(_READ_CHUNK, b - pos), pos)
                        if not data:
                            raise OSError(f"stream file {source} ends at {pos}, before {b}")
                        done = 0
                        while done < len(data):
                            done += os.pwrite(self._fd, data[done:], pos + done)
                        pos += len(data)
                    self.written.add(a, b)
                    copied += b - a
            finally:
                os.close(src)
        return copied

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

    def sha256(self) -> str:
        h = hashlib.sha256()
        with self._lock:
            self._read(0, self.size, h.update)
        return h.hexdigest()

    def digest(self, start: int, end: int) -> str:
        h = hashlib.sha256()
        with self._lock:
            self._read(start, end, h.update)
        return h.hexdigest()

    def block_digests(self, block_size: int) -> dict[int, str]:
        return {i: self.digest(s, s + block_size)
                for i, s in enumerate(range(0, self.size, block_size))}

    def discard(self, start: int, end: int) -> None:
        with self._lock:
            self.written.remove(start, end)


@dataclass
class _Stream:
    """One handle's stream file and how much of it went into the part file (loop thread)."""

    path: Path
    committed: int = 0
    request_id: int | None = None


@dataclass
class _Source:
    """Loop-side state of one source (touched only on the loop thread)."""

    source_id: str
    username: str
    remote_path: str
    handle: PeerTransfer | None = None
    generation: int = 0  # bumped by negotiate/release: a delayed negotiation checks it


class SoulseekRangeTransport:
    """``RangeTransport`` for one file over a ``SoulseekSession``; see the module docstring."""

    def __init__(self, session: SoulseekSession, loop: asyncio.AbstractEventLoop,
                 sources: Mapping[str, tuple[str, str]], part: DiskPartFile, *,
                 block_size: int, start_timeout: float | None = None,
                 ready_timeout: float = 30.0, stall_timeout: float = 60.0,
                 progress_interval: float = 0.25, transfer_id: str = "") -> None:
        self.session = session
        self.loop = loop
        self.part = part
        self.block_size = block_size
        self.listener: TransferListener | None = None
        self._options: dict[str, Any] = {
            "start_timeout": start_timeout, "ready_timeout": ready_timeout,
            "stall_timeout": stall_timeout, "progress_interval": progress_interval,
        }
        self._sources = {sid: _Source(sid, user, path) for sid, (user, path) in sources.items()}
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()
        self._by_request: dict[int, PeerTransfer] = {}
        self._request_of: dict[int, int] = {}  # id(handle) -> request id
        # id(handle) -> (handle, its source): every handle stays referenced, so ids are unique
        self._handles: dict[int, tuple[PeerTransfer, _Source]] = {}
        self._silenced: set[int] = set()  # id(handle) of cancelled / released handles
        self._streams: dict[int, _Stream] = {}  # id(handle) -> its stream file
        # request id -> the end the session wants (written by the actor thread at once, so a
        # stream never commits bytes past an end the session already moved)
        self._limits: dict[int, int] = {}
        self._negotiations = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.log = log.bind(transfer_id=transfer_id)

    # --- RangeTransport (any thread; marshalled onto the loop) -------------------------------

    def negotiate(self, source_id: str) -> None:
        self.loop.call_soon_threadsafe(self._negotiate, source_id)

    def request(self, source_id: str, start: int, end: int) -> int:
        with self._id_lock:
            request_id = next(self._ids)
        self._limits[request_id] = end
        self.loop.call_soon_threadsafe(self._request, source_id, request_id, start, end)
        return request_id

    def set_end(self, request_id: int, end: int) -> None:
        if request_id in self._limits:
            self._limits[request_id] = end
        self.loop.call_soon_threadsafe(self._set_end, request_id, end)

    def cancel(self, request_id: int) -> None:
        self.loop.call_soon_threadsafe(self._cancel, request_id)

    def release(self, source_id: str) -> None:
        self.loop.call_soon_threadsafe(self._release, source_id)

    # --- loop side ----------------------------------------------------------------------------

    def _negotiate(self, source_id: str) -> None:
        src = self._sources[source_id]
        src.generation += 1
        previous = src.handle
        if previous is not None and not previous.done():
            # A cancelled stream still closing: Soulseek allows one transfer of a file per
            # peer, so the new negotiation starts once the old one has ended.
            generation = src.generation
            self._spawn(self._negotiate_after(src, previous, generation))
            return
        self._start_negotiation(src)

    async def _negotiate_after(self, src: _Source, previous: PeerTransfer,
                               generation: int) -> None:
        await previous.wait()
        if src.generation == generation and not self._closed:
            self._start_negotiation(src)

    def _start_negotiation(self, src: _Source) -> None:
        if self._closed:
            return
        cell: list[PeerTransfer] = []
        stream = _Stream(self.part.path.with_name(
            f".{self.part.path.name}.stream-{next(self._negotiations)}"))
        try:
            handle = self.session.negotiate(
                src.username, src.remote_path, stream.path, expected_size=self.part.size,
                block_size=self.block_size, on_ready=self._on_ready,
                on_progress=self._progress_callback(cell), **self._options)
        except (RangeConflictError, RangeStateError, ValueError, RuntimeError) as exc:
            self._failed(src, None, f"cannot negotiate: {exc}", False)
            return
        cell.append(handle)
        src.handle = handle
        self._handles[id(handle)] = (handle, src)
        self._streams[id(handle)] = stream
        self.log.debug("negotiating", peer=src.username, source=src.source_id)
        self._spawn(self._watch(src, handle))

    def _on_ready(self, handle: PeerTransfer) -> None:
        entry = self._handles.get(id(handle))
        if entry is None or id(handle) in self._silenced or self.listener is None:
            return
        self.listener.on_ready(entry[1].source_id, time.monotonic())

    def _progress_callback(self, cell: list[PeerTransfer]) -> Callable[[RangeProgress], None]:
        def report(progress: RangeProgress) -> None:
            if not cell or id(cell[0]) in self._silenced or self.listener is None:
                return
            handle = cell[0]
            stream = self._streams[id(handle)]
            request_id = stream.request_id
            if request_id is None:
                return
            limit = self._limits.get(request_id, progress.position)
            position = min(progress.position, limit)
            if position > stream.committed:
                try:
                    self.part.commit(stream.path, stream.committed, position)
                except OSError as exc:
                    self._silenced.add(id(handle))
                    handle.cancel("part file write failed")
                    self._failed(self._handles[id(handle)][1], request_id,
                                 f"write_error: cannot write the part file: {exc}", False)
                    return
                stream.committed = position
            bs, size = self.block_size, self.part.size
            blocks = [(i * bs, min((i + 1) * bs, size), digest) for i, digest in progress.blocks
                      if min((i + 1) * bs, size) <= limit]
            self.listener.on_progress(request_id, position, blocks, time.monotonic())

        return report

    def _request(self, source_id: str, request_id: int, start: int, end: int) -> None:
        src = self._sources[source_id]
        handle = src.handle
        if handle is None or handle.done() or id(handle) in self._request_of:
            self._failed(src, request_id, "source is not ready for a range", False)
            return
        try:
            handle.request(start, end)
        except (RangeStateError, ValueError) as exc:
            self._failed(src, request_id, f"range refused: {exc}", False)
            self._silenced.add(id(handle))
            handle.cancel("range refused")
            return
        self._by_request[request_id] = handle
        self._request_of[id(handle)] = request_id
        stream = self._streams[id(handle)]
        stream.request_id, stream.committed = request_id, start
        self.log.debug("range requested", peer=src.username, request_id=request_id,
                       range=f"{start}-{end}")

    def _set_end(self, request_id: int, end: int) -> None:
        handle = self._by_request.get(request_id)
        if handle is None or handle.done():
            return
        with contextlib.suppress(RangeStateError):
            handle.set_end(end)

    def _cancel(self, request_id: int) -> None:
        handle = self._by_request.get(request_id)
        if handle is None:
            return
        self._silenced.add(id(handle))
        if not handle.done():
            handle.cancel("cancelled by the swarm")

    def _release(self, source_id: str) -> None:
        src = self._sources[source_id]
        src.generation += 1  # a negotiation waiting for an old stream to close is dropped
        handle = src.handle
        if handle is None or handle.done() or id(handle) in self._request_of:
            return
        self._silenced.add(id(handle))
        handle.cancel("released by the swarm")

    async def _watch(self, src: _Source, handle: PeerTransfer) -> None:
        outcome = await handle.wait()
        with contextlib.suppress(OSError):  # the stream's bytes are in the part file now
            self._streams[id(handle)].path.unlink(missing_ok=True)
        request_id = self._request_of.get(id(handle))
        silenced = id(handle) in self._silenced
        if not silenced and self.listener is not None:
            now = time.monotonic()
            if outcome.ok:
                if request_id is not None:
                    self.listener.on_complete(request_id, now)
            else:
                self._failed(src, request_id, _reason(outcome),
                             outcome.error in PERMANENT_ERRORS)
        self.log.debug("source transfer ended", peer=src.username, request_id=request_id,
                       error=outcome.error.value if outcome.error else None,
                       bytes=outcome.bytes_written, silenced=silenced)

    def _failed(self, src: _Source, request_id: int | None, reason: str,
                permanent: bool) -> None:
        if self.listener is not None and not self._closed:
            self.listener.on_failed(src.source_id, request_id, reason, permanent,
                                    time.monotonic())

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- shutting down ------------------------------------------------------------------------

    async def close(self, timeout: float = 10.0) -> None:
        """On the loop: cancel everything still running and wait until no stream writes."""
        self._closed = True
        handles = [h for h, _ in self._handles.values()]
        self._silenced.update(id(h) for h in handles)
        for handle in handles:
            if not handle.done():
                handle.cancel("swarm finished")
        waits = [asyncio.ensure_future(h.wait()) for h in handles]
        if waits:
            await asyncio.wait(waits, timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        for stream in self._streams.values():
            with contextlib.suppress(OSError):
                stream.path.unlink(missing_ok=True)

    def streams_running(self) -> int:
        """Handles not yet ended (loop thread)."""
        return sum(1 for h, _ in self._handles.values() if not h.done())


def _reason(outcome: RangeOutcome) -> str:
    error = outcome.error.value if outcome.error else "error"
    if outcome.error is RangeError.REJECTED and "ancel" in outcome.reason:
        return "cancelled by peer"
    return f"{error}: {outcome.reason}"

"""The swarm's ``RangeTransport`` on real Soulseek peers (its ``PartFile``: ``diskpart``).

One ``SoulseekRangeTransport`` serves one file (one remote path per source) written into one
part file. The swarm session calls it from the SwarmDriver actor thread; every call is
marshalled onto the asyncio loop thread with ``call_soon_threadsafe`` and returns at once
(``request`` allocates its id locally, so it never waits for the loop). The ranged handles of
``RangedTransferManager`` report back on the loop thread; their reports go to the
``TransferListener`` (a ``SwarmListener`` that only tells). ``now`` in every callback is
``time.monotonic()``: the driver's ticks must use the same clock.

Mapping of the two-phase handle to the port:

- ``negotiate(source)`` → ``session.negotiate(user, path, part, expected_size, block_size)``;
  the peer saying the request waits in its upload queue → ``on_queued``; READY → ``on_ready``;
- ``request(source, a, b)`` → ``handle.request(a, b)``; the stream writes straight into the
  part file, only bytes no other stream wrote first (``written.StreamClaim``); progress →
  ``on_progress`` with the whole aligned blocks the stream hashed as (start, end, sha256)
  triples;
- ``set_end`` / ``cancel`` / ``release`` → ``handle.set_end`` / ``handle.cancel``;
- the outcome → ``on_complete`` (no error) or ``on_failed`` (an error); nothing after
  ``cancel`` or ``release``.

The swarm credits a byte to the first stream that *reports* it, so the reports must follow the
order in which streams wrote (``written``): a stream's position is passed on only after the
streams that wrote bytes it skipped have reported them (``_advance``). ``set_end`` and
``cancel`` act on the stream's claim at once, on the calling thread, so nothing written past an
end the swarm already moved counts as the victim's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slskdn.domain.swarm.ports import TransferListener
from slskdn.logs import get_logger

from .client import SoulseekSession
from .diskpart import DiskPartFile
from .ranges import RangeConflictError, RangeError, RangeOutcome, RangeProgress, RangeStateError
from .transfer import PeerTransfer
from .written import StreamClaim

log = get_logger(__name__)

# Failures after which asking the same peer again is pointless for this file.
PERMANENT_ERRORS = frozenset(
    {RangeError.REJECTED, RangeError.UNREACHABLE, RangeError.SIZE_MISMATCH,
     RangeError.BAD_RANGE, RangeError.WRITE_ERROR, RangeError.PROTOCOL_ERROR}
)


@dataclass
class _Stream:
    """One handle's claim on the part file and the request it serves."""

    claim: StreamClaim
    request_id: int | None = None
    signalled: bool = False  # a progress report went out (the swarm's first-byte signal)


@dataclass
class StreamRecord:
    """When one handle did what (``time.monotonic()``), for timelines and benchmarks."""

    source_id: str
    negotiated_at: float
    queued_at: float | None = None  # the peer said we wait in its upload queue
    ready_at: float | None = None
    requested_at: float | None = None
    start: int | None = None
    first_end: int | None = None  # the end first requested
    end: int | None = None  # the end in force last
    first_byte_at: float | None = None
    ended_at: float | None = None
    position: int | None = None  # where the stream stopped
    outcome: str | None = None  # "ok" or the error
    extended: int = 0  # times the end was moved later
    cut: int = 0  # times the end was moved earlier


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
            # The swarm reads a silence of two blocks as a slowdown (``views.source_view``):
            # reports only every ``progress_interval`` made a 2 MiB/s peer look like 0.3.
            "report_blocks": True,
        }
        self._sources = {sid: _Source(sid, user, path) for sid, (user, path) in sources.items()}
        self._ids = itertools.count(1)
        self._by_request: dict[int, PeerTransfer] = {}
        self._request_of: dict[int, int] = {}  # id(handle) -> request id
        # id(handle) -> (handle, its source): every handle stays referenced, so ids are unique
        self._handles: dict[int, tuple[PeerTransfer, _Source]] = {}
        self._silenced: set[int] = set()  # id(handle) of cancelled / released handles
        self._streams: dict[int, _Stream] = {}  # id(handle) -> its claim
        # The actor thread moves a request's end (and stops a cancelled one) at once, on its
        # claim, so no byte past an end the session already moved is written as the victim's;
        # a request not bound to its claim yet (the loop has not run ``_request``) keeps its
        # end here until it is. ``_lock`` guards these three.
        self._lock = threading.Lock()
        self._limits: dict[int, int] = {}
        self._stopped: set[int] = set()
        self._claims: dict[int, StreamClaim] = {}  # request id -> claim
        self._by_owner: dict[int, PeerTransfer] = {}  # claim owner -> its handle (loop thread)
        part.written.on_freeze = self._on_freeze
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._records: dict[int, StreamRecord] = {}  # id(handle) -> its record (loop thread)
        self.timeline: list[StreamRecord] = []  # every handle, in negotiation order
        self.log = log.bind(transfer_id=transfer_id)

    # --- RangeTransport (any thread; marshalled onto the loop) -------------------------------

    def negotiate(self, source_id: str) -> None:
        self.loop.call_soon_threadsafe(self._negotiate, source_id)

    def request(self, source_id: str, start: int, end: int) -> int:
        with self._lock:
            request_id = next(self._ids)
            self._limits[request_id] = end
        self.loop.call_soon_threadsafe(self._request, source_id, request_id, start, end)
        return request_id

    def set_end(self, request_id: int, end: int) -> None:
        with self._lock:
            if request_id in self._limits:
                self._limits[request_id] = end
            claim = self._claims.get(request_id)
        if claim is not None:
            claim.set_limit(end)
        self.loop.call_soon_threadsafe(self._set_end, request_id, end)

    def cancel(self, request_id: int, position: int) -> None:
        with self._lock:
            self._stopped.add(request_id)
            if request_id in self._limits:
                self._limits[request_id] = min(self._limits[request_id], position)
            claim = self._claims.get(request_id)
        if claim is not None:
            # Reports the swarm had not taken yet when it cancelled are dropped with the
            # transfer: the bytes behind them are not this stream's, or the next stream there
            # would skip them and be credited with them (an honest peer blamed for a liar's).
            claim.stop(position)
        self.loop.call_soon_threadsafe(self._cancel, request_id)

    def release(self, source_id: str) -> None:
        self.loop.call_soon_threadsafe(self._release, source_id)

    def credited_until(self, request_id: int) -> int | None:
        # The claim is frozen on the actor thread, within the ``discard`` that forgot the bytes
        # it skipped, so every report the session handles after that sees the cut.
        with self._lock:
            claim = self._claims.get(request_id)
        return claim.limit if claim is not None and claim.frozen else None

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
        stream = _Stream(self.part.written.stream())
        stream.claim.set_limit(0)  # nothing may be written before a range is requested
        try:
            handle = self.session.negotiate(
                src.username, src.remote_path, self.part.path, expected_size=self.part.size,
                block_size=self.block_size, on_ready=self._on_ready, on_queued=self._on_queued,
                on_progress=self._progress_callback(cell), claim=stream.claim, **self._options)
        except (RangeConflictError, RangeStateError, ValueError, RuntimeError) as exc:
            self._failed(src, None, f"cannot negotiate: {exc}", False)
            return
        cell.append(handle)
        record = StreamRecord(src.source_id, time.monotonic())
        self._records[id(handle)] = record
        self.timeline.append(record)
        src.handle = handle
        self._handles[id(handle)] = (handle, src)
        self._streams[id(handle)] = stream
        self._by_owner[stream.claim.owner] = handle
        self.log.debug("negotiating", peer=src.username, source=src.source_id)
        self._spawn(self._watch(src, handle))

    def _on_ready(self, handle: PeerTransfer) -> None:
        entry = self._handles.get(id(handle))
        if entry is None or id(handle) in self._silenced or self.listener is None:
            return
        self._records[id(handle)].ready_at = time.monotonic()
        self.listener.on_ready(entry[1].source_id, time.monotonic())

    def _on_queued(self, handle: PeerTransfer, place: int | None) -> None:
        entry = self._handles.get(id(handle))
        if entry is None or id(handle) in self._silenced or self.listener is None:
            return
        self._records[id(handle)].queued_at = time.monotonic()
        self.listener.on_queued(entry[1].source_id, place, time.monotonic())

    def _progress_callback(self, cell: list[PeerTransfer]) -> Callable[[RangeProgress], None]:
        def report(progress: RangeProgress) -> None:
            if not cell or id(cell[0]) in self._silenced or self.listener is None:
                return
            stream = self._streams[id(cell[0])]
            request_id = stream.request_id
            if request_id is None:
                return
            now = time.monotonic()
            record = self._records[id(cell[0])]
            if record.first_byte_at is None:
                record.first_byte_at = now
            self._advance(stream, now, set())
            limit = stream.claim.limit
            position = stream.claim.reported if stream.claim.reported is not None else 0
            if limit is not None:  # frozen below what it reported: never credit past that
                position = min(position, limit)
            bs, size = self.block_size, self.part.size
            blocks = [(i * bs, min((i + 1) * bs, size), digest) for i, digest in progress.blocks
                      if limit is None or min((i + 1) * bs, size) <= limit]
            if blocks or not stream.signalled:  # its position went out in ``_advance``
                stream.signalled = True
                self.listener.on_progress(request_id, position, blocks, now)

        return report

    def _advance(self, stream: _Stream, now: float, seen: set[int]) -> None:
        """Pass on ``stream``'s position as far as it may go — after the streams that wrote
        bytes it skipped, if they have not reported them yet: the swarm credits a byte to
        whoever reports it first, and that must be its writer (``WrittenRanges``)."""
        assert self.listener is not None and stream.request_id is not None
        seen.add(stream.claim.owner)
        while (writer := self.part.written.blocker(stream.claim)) is not None:
            other = self._by_owner.get(writer.owner)
            first = self._streams.get(id(other)) if other is not None else None
            if (first is None or first.request_id is None or writer.owner in seen
                    or id(other) in self._silenced):
                break
            before = writer.reported
            self._advance(first, now, seen)
            if writer.reported == before:
                break  # it cannot move either: report what we may
        position = stream.claim.advance()
        if position is not None:
            stream.signalled = True
            self.listener.on_progress(stream.request_id, position, [], now)

    def _request(self, source_id: str, request_id: int, start: int, end: int) -> None:
        src = self._sources[source_id]
        handle = src.handle
        if handle is None or handle.done() or id(handle) in self._request_of:
            self._failed(src, request_id, "source is not ready for a range", False)
            return
        stream = self._streams[id(handle)]
        with self._lock:  # bind the claim: from now on the actor thread moves its end itself
            self._claims[request_id] = stream.claim
            stream.claim.set_limit(self._limits.get(request_id, end))
            if request_id in self._stopped:
                stream.claim.stop()
        try:
            handle.request(start, end)
        except (RangeStateError, ValueError) as exc:
            self._failed(src, request_id, f"range refused: {exc}", False)
            self._silenced.add(id(handle))
            handle.cancel("range refused")
            return
        self._by_request[request_id] = handle
        self._request_of[id(handle)] = request_id
        stream.request_id = request_id
        record = self._records[id(handle)]
        record.requested_at, record.start = time.monotonic(), start
        record.first_end = record.end = end
        self.log.debug("range requested", peer=src.username, request_id=request_id,
                       range=f"{start}-{end}")

    def _set_end(self, request_id: int, end: int) -> None:
        handle = self._by_request.get(request_id)
        if handle is None or handle.done():
            return
        record = self._records[id(handle)]
        if record.end is not None and end != record.end:
            record.extended += end > record.end
            record.cut += end < record.end
        with contextlib.suppress(RangeStateError):
            record.end = handle.set_end(end)

    def _cancel(self, request_id: int) -> None:
        handle = self._by_request.get(request_id)
        if handle is None:
            return
        self._silenced.add(id(handle))
        if not handle.done():
            handle.cancel("cancelled by the swarm")

    def _on_freeze(self, claim: StreamClaim) -> None:
        """(Actor thread, from ``discard``.) The stream skipped bytes that were just forgotten:
        close it where it stopped; the swarm gets it back as a range completed short of its
        end and fetches the rest again."""
        self.loop.call_soon_threadsafe(self._cut, claim)

    def _cut(self, claim: StreamClaim) -> None:
        handle = self._by_owner.get(claim.owner)
        if handle is None or handle.done() or id(handle) in self._silenced:
            return
        self.log.debug("stream cut: bytes it skipped were forgotten", peer=handle.username,
                       request_id=self._request_of.get(id(handle)), at=claim.limit)
        with contextlib.suppress(RangeStateError):
            handle.set_end(claim.limit if claim.limit is not None else 0)

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
        request_id = self._request_of.get(id(handle))
        silenced = id(handle) in self._silenced
        stream = self._streams[id(handle)]
        if request_id is not None and not silenced and self.listener is not None:
            self._advance(stream, time.monotonic(), set())
        # The swarm drops the transfer with its outcome: bytes it wrote but could not report
        # (held back behind another stream's) will never be credited to it, so they are not
        # its own any more.
        stream.claim.stop()
        record = self._records[id(handle)]
        record.ended_at, record.position = time.monotonic(), handle.position
        record.outcome = "ok" if outcome.ok else _reason(outcome)
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
                       bytes=outcome.bytes_written, skipped=outcome.bytes_skipped,
                       silenced=silenced)

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

    def streams_running(self) -> int:
        """Handles not yet ended (loop thread)."""
        return sum(1 for h, _ in self._handles.values() if not h.done())


def _reason(outcome: RangeOutcome) -> str:
    error = outcome.error.value if outcome.error else "error"
    if outcome.error is RangeError.REJECTED and "ancel" in outcome.reason:
        return "cancelled by peer"
    return f"{error}: {outcome.reason}"

"""One negotiated Soulseek transfer of one file from one peer, fetching a byte range [a, b).

Phases: NEGOTIATING (queued at the peer; waits for its transfer request and file connection;
``on_queued`` when the peer says the request waits behind other uploads)
→ READY (the file connection is open; the peer waits for the offset) → STREAMING (offset sent;
bytes go straight into the part file) → DONE (an outcome exists). The range may be given up
front or chosen when the source is READY, so a scheduler can hand out the range that is most
useful at that moment.

Soulseek has no "stop at": the uploader streams from the offset to the end of the file, so the
stream is closed once it reaches the end in force. ``set_end`` moves that end (earlier to cut the
range short for work stealing, later to extend it); at or before the current position the stream
stops now. Bytes that arrive past the end are dropped, never written.

Every method here runs on the asyncio loop thread. From another thread (an actor), use
``loop.call_soon_threadsafe(transfer.set_end, end)``; the callbacks run on the loop thread too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from aioslsk.exceptions import ConnectionReadError

from slskdn.logs import get_logger

from .partfile import RangeWriter
from .ranges import RangeError, RangeOutcome, RangeProgress, RangeStateError
from .written import StreamClaim

if TYPE_CHECKING:
    from aioslsk.network.connection import PeerConnection

log = get_logger(__name__)

ProgressCallback = Callable[[RangeProgress], None]
ReadyCallback = Callable[["PeerTransfer"], None]
QueuedCallback = Callable[["PeerTransfer", "int | None"], None]


class Phase(Enum):
    NEGOTIATING = "negotiating"
    READY = "ready"
    STREAMING = "streaming"
    DONE = "done"


class PeerTransfer:
    """Handle and state of one ranged transfer. Created by ``RangedTransferManager.negotiate``."""

    def __init__(self, username: str, remote_path: str, part_path: Path, *,
                 expected_size: int | None, block_size: int | None,
                 ready_timeout: float, stall_timeout: float, progress_interval: float,
                 on_ready: ReadyCallback | None, on_progress: ProgressCallback | None,
                 on_done: Callable[[PeerTransfer], None],
                 claim: StreamClaim | None = None, report_blocks: bool = False,
                 on_queued: QueuedCallback | None = None) -> None:
        self.username = username
        self.remote_path = remote_path
        self.part_path = part_path
        self.expected_size = expected_size
        self.file_size: int | None = None
        self._block_size = block_size
        self._claim = claim
        self._ready_timeout = ready_timeout
        self._stall_timeout = stall_timeout
        self._progress_interval = progress_interval
        self._report_blocks = report_blocks
        self._on_ready = on_ready
        self._on_queued = on_queued
        self.queued = False  # the peer said our request waits in its upload queue
        self.place: int | None = None  # our place there, if it said
        self._on_progress = on_progress
        self._on_done = on_done
        self._phase = Phase.NEGOTIATING
        self._offset: int | None = None
        self._end: int | None = None
        self._range_chosen: asyncio.Event = asyncio.Event()
        self._connection: PeerConnection | None = None
        self._closing: asyncio.Task[None] | None = None  # held: a bare task may be collected
        self._writer: RangeWriter | None = None
        self._stop_requested = False
        self._cancel_reason: str | None = None
        self._requested_at = time.monotonic()
        self._stream_started_at: float | None = None
        self._reported_at: float | None = None
        self._reported_position: int | None = None
        self._pending_blocks: list[tuple[int, str]] = []
        self._outcome: asyncio.Future[RangeOutcome] = asyncio.get_running_loop().create_future()
        self.log = log.bind(peer=username, remote_path=remote_path)

    # --- the caller's side -------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def position(self) -> int | None:
        """Absolute offset reached by the stream (None before it starts)."""
        return self._writer.position if self._writer is not None else self._offset

    @property
    def end(self) -> int | None:
        return self._end

    def request(self, offset: int, end: int) -> None:
        """Fetch [offset, end). Allowed while NEGOTIATING (used once READY) or READY."""
        if self._phase not in (Phase.NEGOTIATING, Phase.READY) or self._offset is not None:
            raise RangeStateError(f"cannot request a range in phase {self._phase.value}")
        if not 0 <= offset < end:
            raise ValueError(f"bad range [{offset}, {end})")
        if self.file_size is not None and end > self.file_size:
            raise ValueError(f"range [{offset}, {end}) ends past the file ({self.file_size} bytes)")
        self._offset, self._end = offset, end
        self.log = self.log.bind(range=f"{offset}-{end}")
        self._range_chosen.set()

    def set_end(self, end: int) -> int:
        """Move where the stream stops; returns the end now in force. At or before the
        position reached, the stream stops now (the connection is closed)."""
        if self._offset is None or self._end is None:
            raise RangeStateError("no range was requested yet")
        if self._phase is Phase.DONE:
            return self._end
        if self.file_size is not None:
            end = min(end, self.file_size)
        position = self.position if self.position is not None else self._offset
        self._end = max(end, position)
        self.log.debug("range end moved", end=self._end)
        if self._end <= position:
            if self._phase is Phase.STREAMING:
                self._stop_stream()
            else:  # nothing left to fetch: give the source back before the stream starts
                self._finish(None, "range emptied before the stream started")
        return self._end

    def cancel(self, reason: str = "cancelled by caller") -> None:
        """Close now; the outcome says CANCELLED with the bytes written so far."""
        if self._phase is Phase.STREAMING:
            # The stream ends itself after the write in flight, so the outcome counts it.
            self._cancel_reason = reason
            self._stop_stream()
        else:
            self._finish(RangeError.CANCELLED, reason)

    async def wait(self) -> RangeOutcome:
        """The outcome, once the transfer ended (cancelling the waiter does not cancel it)."""
        return await asyncio.shield(self._outcome)

    async def ended_within(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if the transfer has ended."""
        done, _ = await asyncio.wait({self._outcome}, timeout=max(0.0, timeout))
        return bool(done)

    @property
    def ended(self) -> asyncio.Future[RangeOutcome]:
        """The outcome future, for ``asyncio.wait`` together with others. Never cancel it."""
        return self._outcome

    def done(self) -> bool:
        return self._outcome.done()

    # --- the manager's side (aioslsk hooks) ---------------------------------------------------

    def announce(self, file_size: int) -> tuple[RangeError, str] | None:
        """The peer offers the transfer and names the file's size: a problem, or None."""
        if self._phase is not Phase.NEGOTIATING:
            return RangeError.CANCELLED, "transfer no longer wanted"
        self.file_size = file_size
        if self.expected_size is not None and file_size != self.expected_size:
            return (RangeError.SIZE_MISMATCH,
                    f"peer announced {file_size} bytes, expected {self.expected_size}")
        if self._end is not None and self._end > file_size:
            return (RangeError.BAD_RANGE,
                    f"range [{self._offset}, {self._end}) ends past the file ({file_size} bytes)")
        return None

    async def ready(self, connection: PeerConnection) -> int | None:
        """The file connection is open: wait for a range, return its offset (None: give up)."""
        if self._phase is not Phase.NEGOTIATING:
            return None
        self._phase = Phase.READY
        self._connection = connection
        self.log.debug("source ready", file_size=self.file_size)
        if self._on_ready is not None and self._offset is None:
            self._call(self._on_ready, self)
        try:
            async with asyncio.timeout(self._ready_timeout):
                await self._range_chosen.wait()
        except TimeoutError:
            self._finish(RangeError.READY_TIMEOUT,
                         f"no range chosen {self._ready_timeout:.1f} s after the peer was ready")
        if self._phase is not Phase.READY or self._offset is None:
            return None
        self._phase = Phase.STREAMING
        self._stream_started_at = time.monotonic()
        return self._offset

    def report_queued(self, place: int | None) -> None:
        """The peer says our request waits in its upload queue, at ``place`` if known."""
        if self._phase is not Phase.NEGOTIATING or (self.queued and place == self.place):
            return
        self.queued, self.place = True, place
        self.log.debug("queued by the peer", place=place)
        if self._on_queued is not None:
            self._call(self._on_queued, self, place)

    def fail(self, error: RangeError, reason: str) -> None:
        """A failure seen by the manager (rejection, unreachable, start timeout...)."""
        self._finish(error, reason)

    async def stream(self, connection: PeerConnection) -> None:
        """Receive [offset, end) from ``connection`` into the part file; sets the outcome."""
        assert self._offset is not None and self._end is not None
        writer = RangeWriter(self.part_path, self._offset, block_size=self._block_size,
                             file_size=self.file_size, claim=self._claim)
        try:
            writer.open()
        except OSError as exc:
            self._finish(RangeError.WRITE_ERROR, f"cannot open part file: {exc}")
            return
        self._writer = writer
        self._reported_position = writer.position  # nothing to report before the first byte
        try:
            await self._receive(connection, writer)
        except asyncio.CancelledError:
            self._finish(RangeError.CANCELLED, "session stopped")
            raise
        finally:
            await writer.aclose()

    # --- internals ----------------------------------------------------------------------------

    async def _receive(self, connection: PeerConnection, writer: RangeWriter) -> None:
        assert self._end is not None
        error: RangeError | None = None
        reason = ""
        while not self._stop_requested:
            remaining = self._end - writer.position
            if remaining <= 0:
                break
            # Ask the socket for no more than the range still needs: no overshoot to undo.
            want = min(await connection.download_rate_limiter.take_tokens(), remaining)
            where = f"at offset {writer.position} (range ends at {self._end})"
            try:
                data = await self._read(connection, want, writer)
            except TimeoutError:
                error = RangeError.STALLED
                reason = f"no data for {self._stall_timeout:.1f} s {where}"
                break
            except ConnectionReadError as exc:
                if not self._stop_requested:
                    error, reason = RangeError.PEER_CLOSED, f"read failed {where}: {exc}"
                break
            if data is None:  # EOF
                if not self._stop_requested:
                    error, reason = RangeError.PEER_CLOSED, f"peer closed the connection {where}"
                break
            data = data[: max(0, self._end - writer.position)]  # the end may have moved meanwhile
            if not data:
                break
            try:
                self._pending_blocks += await writer.write(data)
            except OSError as exc:
                error, reason = RangeError.WRITE_ERROR, f"cannot write part file: {exc}"
                break
            self._report(writer, first=self._reported_at is None)
        self._report(writer, final=True)  # the last progress comes before the outcome
        if error is None and self._cancel_reason is not None:
            error, reason = RangeError.CANCELLED, self._cancel_reason
        self._finish(error, reason)

    async def _read(self, connection: PeerConnection, want: int,
                    writer: RangeWriter) -> bytes | None:
        """One read; raises TimeoutError after ``stall_timeout`` without data. While waiting,
        progress not yet reported is reported when due, so a stream that pauses shows where
        it stopped."""
        loop = asyncio.get_running_loop()
        stall_at = loop.time() + self._stall_timeout
        read = asyncio.ensure_future(connection.receive_data(want))
        try:
            while True:
                wait = stall_at - loop.time()
                due = self._report_due()
                if due is not None:
                    wait = min(wait, due)
                done, _ = await asyncio.wait({read}, timeout=max(0.0, wait))
                if done:
                    return read.result()
                if loop.time() >= stall_at:
                    raise TimeoutError
                self._report(writer)
        finally:
            if not read.done():
                read.cancel()
                await asyncio.gather(read, return_exceptions=True)

    def _report_due(self) -> float | None:
        """Seconds until unreported progress is due (None: nothing to report)."""
        if self._on_progress is None or self._writer is None:
            return None
        if self._writer.position == self._reported_position and not self._pending_blocks:
            return None
        since = time.monotonic() - (self._reported_at or 0.0)
        return max(0.0, self._progress_interval - since)

    def _report(self, writer: RangeWriter, *, first: bool = False, final: bool = False) -> None:
        """Report progress when due (and at the first bytes and at the end; with
        ``report_blocks``, whenever a whole block completed)."""
        due = self._report_due()
        if self._on_progress is None or due is None or (due > 0 and not (
                first or final or (self._report_blocks and self._pending_blocks))):
            return
        assert self._stream_started_at is not None
        now = time.monotonic()
        self._reported_at, self._reported_position = now, writer.position
        blocks, self._pending_blocks = tuple(self._pending_blocks), []
        self._call(self._on_progress, RangeProgress(
            writer.written, now - self._stream_started_at, writer.position, blocks))

    def _stop_stream(self) -> None:
        """Close the file connection: a read waiting on it returns at once."""
        self._stop_requested = True
        if self._connection is not None and self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._connection.disconnect())

    def _finish(self, error: RangeError | None, reason: str) -> None:
        if self._outcome.done():
            return
        previous = self._phase
        self._phase = Phase.DONE
        self._range_chosen.set()  # wakes ``ready`` if it waits
        now = time.monotonic()
        writer = self._writer
        started = self._stream_started_at
        outcome = RangeOutcome(
            username=self.username,
            remote_path=self.remote_path,
            offset=self._offset if started is not None else None,
            end=self._end,
            bytes_written=writer.written if writer is not None else 0,
            # max: a write cancelled mid-way may be stored but not yet counted in ``written``
            bytes_skipped=max(0, writer.written - writer.stored) if writer is not None else 0,
            waited_s=(started if started is not None else now) - self._requested_at,
            duration_s=now - started if started is not None else 0.0,
            file_size=self.file_size,
            sha256=writer.sha256() if writer is not None else None,
            error=error,
            reason=reason,
        )
        self._outcome.set_result(outcome)
        if error is None:
            self.log.info("range done", bytes=outcome.bytes_written,
                          seconds=round(outcome.duration_s, 3))
        else:
            self.log.warning("range failed", error=error.value, reason=reason,
                             bytes=outcome.bytes_written, phase=previous.value)
        self._call(self._on_done, self)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        # A caller's callback must not break the data path; its failure is logged loudly.
        try:
            callback(*args)
        except Exception:
            self.log.exception("range callback failed", callback=repr(callback))

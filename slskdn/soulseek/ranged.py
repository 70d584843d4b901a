"""aioslsk's ``TransferManager`` with ranged downloads and the ticket-collision fix.

aioslsk 1.7.1 has no byte-range API: it derives a download's offset from the size of the local
file and streams to the end of the file into it. This subclass (installed through
``SoulSeekClient.create_transfer_manager``) overrides these *private* hooks — which is why
aioslsk is pinned to an exact version:

- ``_initialize_download``: the same steps as aioslsk's, but the waiting file connection is keyed
  by (username, ticket) (see ``tickets``); the offset sent is the range's start, chosen when the
  file connection is ready (this replaces ``_calculate_offset``); then [a, b) is streamed into the
  part file at offset a (``PeerTransfer.stream``) and the connection closed at b;
- ``_on_peer_initialized``: hands an incoming file connection to the (username, ticket) waiter;
- ``_download_file``: aioslsk's whole-file path, which is never taken (refused);
- ``_queue_remotely`` and ``on_transfer_state_changed``: report an unreachable or refusing peer
  to the waiting range at once instead of leaving it queued;
- ``_on_peer_place_in_queue_reply``: a peer's place-in-queue answer marks the waiting range
  queued (``PeerTransfer.report_queued``). Soulseek has no "queued" reply to a queue request: a
  peer with a free slot just starts the transfer, so a range that has not started
  ``QUEUE_CHECK_S`` after its request was delivered asks the peer for its place.

A ranged transfer never gets a ``local_path``: aioslsk deletes a download's local file when it
aborts it, and the part file is shared by every range of the file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aioslsk.events import PeerInitializedEvent, on_message
from aioslsk.exceptions import ConnectionReadError, ConnectionWriteError, PeerConnectionError
from aioslsk.network.connection import (
    CloseReason,
    PeerConnection,
    PeerConnectionState,
    PeerConnectionType,
)
from aioslsk.protocol.messages import (
    PeerPlaceInQueueReply,
    PeerPlaceInQueueRequest,
    PeerTransferReply,
    PeerTransferRequest,
)
from aioslsk.protocol.primitives import uint64
from aioslsk.transfer.manager import TransferManager, _RequestFlag
from aioslsk.transfer.model import FailReason, Transfer, TransferDirection
from aioslsk.transfer.state import TransferState

from slskdn.logs import get_logger

from .ranges import RangeConflictError, RangeError, RangeOutcome
from .tickets import FileConnectionWaiters, ticket_sequence
from .transfer import PeerTransfer, Phase, ProgressCallback, QueuedCallback, ReadyCallback
from .written import StreamClaim

log = get_logger(__name__)

FILE_CONNECTION_TIMEOUT = 60.0  # aioslsk's wait for the uploader's file connection
TICKET_READ_TIMEOUT = 5.0  # aioslsk's wait for the ticket on an incoming file connection
# A new range of a file whose previous transfer from the same peer is still closing waits this
# long at most for it: the uploader ignores a queue request for a file it is still uploading.
PREVIOUS_CLOSE_TIMEOUT = 2.0
# ... and even after our close it may see the queue request first (another connection): then
# the first re-sends come soon, doubling up to ``requeue_interval``.
RECENT_REQUEUE_S = 0.05
RECENT_S = 5.0  # "just ended": a transfer of the same file from the peer ended this recently
# A peer with a free slot starts the transfer within a round trip or two of our queue request
# (tens of ms on loopback); one that has not after this long is asked for our place in its
# queue. Asked sooner, a peer whose management cycle has not yet run would say "queued".
QUEUE_CHECK_S = 0.5


class RangedTransferManager(TransferManager):
    """``TransferManager`` that can fetch byte ranges; see the module docstring."""

    def __init__(self, *args: Any, ticket_start: int | None = None,
                 requeue_interval: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ticket_generator = ticket_sequence(ticket_start)
        self._waiters: FileConnectionWaiters[PeerConnection] = FileConnectionWaiters()
        # (username, remote path) → the running range and *its* aioslsk Transfer object: an
        # old Transfer of the same file may still be closing while the next range starts.
        self._ranged: dict[tuple[str, str], tuple[PeerTransfer, Transfer]] = {}
        self._requeue_interval = requeue_interval
        # (username, path) -> resolved when its transfer task ended (connection closed)
        self._running: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._ended_at: dict[tuple[str, str], float] = {}  # loop time
        self._background: set[asyncio.Task[None]] = set()

    # --- public API ---------------------------------------------------------------------------

    def negotiate(self, username: str, remote_path: str, part_path: Path, *,
                  offset: int | None = None, end: int | None = None,
                  expected_size: int | None = None, block_size: int | None = None,
                  on_ready: ReadyCallback | None = None,
                  on_progress: ProgressCallback | None = None,
                  on_queued: QueuedCallback | None = None,
                  start_timeout: float | None = None, ready_timeout: float = 30.0,
                  stall_timeout: float = 60.0, progress_interval: float = 0.25,
                  claim: StreamClaim | None = None,
                  report_blocks: bool = False) -> PeerTransfer:
        """Queue a transfer of ``remote_path`` at ``username``; returns its handle.

        With ``offset``/``end`` the range is fixed now; otherwise call ``request`` on the handle
        once it is READY (``on_ready``). ``on_queued`` is called if the peer says the request
        waits in its upload queue (with our place, if known). ``start_timeout`` bounds the
        wait in the peer's queue (None: until cancelled — peers may queue for hours, the
        scheduler decides). With a ``claim`` the stream writes only bytes no other stream of
        the part file wrote first.
        ``report_blocks``: progress is reported whenever a whole block completed, not only
        every ``progress_interval`` (a scheduler that reads silence as slowness needs it).
        """
        key = (username, remote_path)
        if key in self._ranged:
            raise RangeConflictError(f"a transfer of {remote_path!r} from {username!r} is running")
        transfer = PeerTransfer(
            username, remote_path, Path(part_path), expected_size=expected_size,
            block_size=block_size, ready_timeout=ready_timeout, stall_timeout=stall_timeout,
            progress_interval=progress_interval, on_ready=on_ready, on_progress=on_progress,
            on_done=self._range_done, claim=claim, report_blocks=report_blocks,
            on_queued=on_queued)
        if offset is not None or end is not None:
            if offset is None or end is None:
                raise ValueError("give both offset and end, or neither")
            transfer.request(offset, end)
        download = Transfer(username, remote_path, TransferDirection.DOWNLOAD)
        self._ranged[key] = (transfer, download)
        self._spawn(self._negotiate(transfer, download, start_timeout))
        return transfer

    async def download_range(self, username: str, remote_path: str, offset: int, end: int,
                             part_path: Path, on_progress: ProgressCallback | None = None,
                             **options: Any) -> RangeOutcome:
        """Fetch [offset, end) of ``remote_path`` from ``username`` into ``part_path`` at
        ``offset``. Options as for ``negotiate``. Cancelling the caller cancels the range."""
        handle = self.negotiate(username, remote_path, part_path, offset=offset, end=end,
                                on_progress=on_progress, **options)
        try:
            return await handle.wait()
        except asyncio.CancelledError:
            handle.cancel("caller cancelled")
            raise

    def ranged_transfers(self) -> list[PeerTransfer]:
        return [pt for pt, _ in self._ranged.values()]

    def on_peer_violation(self, username: str | None, reason: str) -> None:
        """A peer broke the protocol (``peer_input``): fail its ranges still negotiating —
        the broken message may have been its transfer request, and waiting for one would
        last until a timeout. Streams already running carry raw bytes and go on."""
        for pt in self.ranged_transfers():
            if pt.username == username and pt.phase in (Phase.NEGOTIATING, Phase.READY):
                pt.fail(RangeError.PROTOCOL_ERROR, f"peer {reason}")

    async def stop(self) -> list[asyncio.Task[Any]]:
        """aioslsk's stop, after closing our ranges (their outcome: cancelled)."""
        for pt in self.ranged_transfers():
            pt.cancel("session stopped")
        tasks: list[asyncio.Task[Any]] = await super().stop()
        for task in self._background:
            task.cancel()
        return tasks + list(self._background)

    # --- negotiation --------------------------------------------------------------------------

    async def _negotiate(self, pt: PeerTransfer, transfer: Transfer,
                         start_timeout: float | None) -> None:
        key = (pt.username, pt.remote_path)
        if (previous := self._running.get(key)) is not None:
            await asyncio.wait({previous}, timeout=PREVIOUS_CLOSE_TIMEOUT)
        stale = self.find_transfer(pt.username, pt.remote_path, TransferDirection.DOWNLOAD)
        if stale is not None:  # not one of ours (ours leave the list when they finish)
            await self._abandon(stale)
        if pt.done():
            return
        await self.add(transfer)
        await transfer.state.queue()
        if pt.done():  # given up while being added: _range_done saw a VIRGIN transfer
            await self._abandon(transfer)
            return
        self._queue_now(transfer)
        self._spawn(self._ask_place(pt, transfer))
        loop = asyncio.get_running_loop()
        deadline = None if start_timeout is None else loop.time() + start_timeout
        # Re-send the queue request now and then: a peer still finishing our previous range of
        # this file (it notices the closed connection late) silently ignores a new one.
        interval = self._requeue_interval
        if loop.time() - self._ended_at.get(key, -RECENT_S) < RECENT_S:
            interval = min(interval, RECENT_REQUEUE_S)
        while not pt.done() and pt.phase is Phase.NEGOTIATING:
            wait = interval
            interval = min(2 * interval, self._requeue_interval)
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
            if wait <= 0:
                pt.fail(RangeError.START_TIMEOUT,
                        f"peer did not start the transfer within {start_timeout:.1f} s")
                break
            ended = await pt.ended_within(wait)
            if (not ended and transfer.state.VALUE == TransferState.QUEUED
                    and transfer.remotely_queued):
                pt.log.debug("re-sending the queue request")
                transfer.remotely_queued = False
                self._queue_now(transfer)

    def _queue_now(self, transfer: Transfer) -> None:
        """Send the queue request now. aioslsk sends it from its management cycle, which runs
        at most every 50 ms (up to 250 ms): a negotiation waited for it, and a cycle that ran
        while an earlier request was still connecting sent a second one (a peer that drops the
        first then answers the second at once)."""
        if transfer._remotely_queue_task is not None or transfer.remotely_queued:
            return
        task = asyncio.get_running_loop().create_task(self._queue_remotely(transfer))
        transfer._remotely_queue_task = task
        task.add_done_callback(transfer._remotely_queue_task_complete)

    async def _ask_place(self, pt: PeerTransfer, transfer: Transfer) -> None:
        """Ask the peer for our place in its queue if the range has not started by then; the
        answer arrives as a message (``_on_peer_place_in_queue_reply``)."""
        if await pt.ended_within(QUEUE_CHECK_S) or pt.phase is not Phase.NEGOTIATING:
            return
        if not transfer.remotely_queued or self._active(transfer) is not pt:
            return  # not delivered (the requeue loop goes on), or an old transfer
        try:
            await self._network.send_peer_messages(
                pt.username, PeerPlaceInQueueRequest.Request(pt.remote_path))
        except (ConnectionWriteError, PeerConnectionError) as exc:
            pt.log.debug("could not ask for our place in the queue", error=repr(exc))

    @on_message(PeerPlaceInQueueReply.Request)
    async def _on_peer_place_in_queue_reply(self, message: PeerPlaceInQueueReply.Request,
                                            connection: PeerConnection) -> None:
        await super()._on_peer_place_in_queue_reply(message, connection)
        entry = self._ranged.get((connection.username or "", message.filename))
        if entry is not None and message.place > 0:  # 0: "not in my queue" (about to start)
            entry[0].report_queued(message.place)

    def _get_queued_transfers(self) -> tuple[list[Transfer], list[Transfer]]:
        # Not a download whose queue request is still being sent (see ``_queue_now``).
        downloads, uploads = super()._get_queued_transfers()
        return [t for t in downloads if t._remotely_queue_task is None], uploads

    def _range_done(self, pt: PeerTransfer) -> None:
        entry = self._ranged.get((pt.username, pt.remote_path))
        if entry is None or entry[0] is not pt:
            return
        del self._ranged[(pt.username, pt.remote_path)]
        transfer = entry[1]
        # Out of the list at once: the next range of this file from this peer gets a fresh
        # Transfer while this one may still be closing its connection.
        self._forget(transfer)
        if (transfer._transfer_task is None and not transfer.is_finalized()
                and transfer.state.VALUE != TransferState.VIRGIN):
            # Given up while queued: stop aioslsk's queueing for it. (A VIRGIN one is still
            # being added by _negotiate, which checks for this.)
            self._spawn(self._abandon(transfer))
        # Otherwise the transfer's own task sees the range is done and finalizes it
        # (cancelling that task from here could interrupt it while it closes a connection).

    async def _abandon(self, transfer: Transfer) -> None:
        transfer.local_path = None  # aioslsk's abort deletes the local file: never the part file
        if not transfer.is_finalized():
            await transfer.state.abort(reason="range finished")
        self._forget(transfer)

    def _forget(self, transfer: Transfer) -> None:
        # By identity: Transfer.__eq__ compares (user, path, direction), and a newer Transfer
        # of the same file may be in the list.
        if any(t is transfer for t in self._transfers):
            self._transfers[:] = [t for t in self._transfers if t is not transfer]
            self.request_management_cycle(_RequestFlag.TRANSFER_CHANGE)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _active(self, transfer: Transfer) -> PeerTransfer | None:
        entry = self._ranged.get((transfer.username, transfer.remote_path))
        return entry[0] if entry is not None and entry[1] is transfer else None

    async def _queue_remotely(self, transfer: Transfer) -> None:
        await super()._queue_remotely(transfer)
        pt = self._active(transfer)
        if pt is not None and not transfer.remotely_queued and pt.phase is Phase.NEGOTIATING:
            pt.fail(RangeError.UNREACHABLE,
                    f"could not deliver the queue request to {transfer.username}")

    async def on_transfer_state_changed(self, transfer: Transfer, old: TransferState.State,
                                        new: TransferState.State) -> None:
        await super().on_transfer_state_changed(transfer, old, new)
        pt = self._active(transfer)
        if pt is not None and new == TransferState.FAILED and pt.phase is Phase.NEGOTIATING:
            pt.fail(RangeError.REJECTED, f"peer refused: {transfer.fail_reason or 'no reason'}")

    # --- aioslsk hooks ------------------------------------------------------------------------

    async def _on_peer_initialized(self, event: PeerInitializedEvent) -> None:
        connection = event.connection
        if connection.connection_type != PeerConnectionType.FILE or event.requested:
            return
        try:
            async with asyncio.timeout(TICKET_READ_TIMEOUT):
                ticket = await connection.receive_transfer_ticket()
        except (ConnectionReadError, TimeoutError):
            # Routine in "race" connect mode: the uploader opened two connections and closed
            # the slower one before sending a ticket on it.
            log.debug("no transfer ticket on file connection", peer=connection.username,
                      address=f"{connection.hostname}:{connection.port}")
            await connection.disconnect(CloseReason.REQUESTED)
            return
        if not self._waiters.resolve(connection.username or "", ticket, connection):
            log.warning("no transfer waits for this file connection", peer=connection.username,
                        ticket=ticket)
            await connection.disconnect(CloseReason.REQUESTED)

    async def _initialize_download(self, transfer: Transfer, peer_connection: PeerConnection,
                                   request: PeerTransferRequest.Request) -> None:
        pt = self._active(transfer)
        if pt is None:
            # Only ranged transfers are downloaded (a whole file is the range [0, size)); a
            # stray offer, e.g. for a range already given up, is refused.
            peer_connection.queue_message(PeerTransferReply.Request(
                ticket=request.ticket, allowed=False, reason=FailReason.CANCELLED))
            transfer.local_path = None
            if not transfer.is_finalized():  # not abort(): it would cancel this very task
                await transfer.state.fail(reason="not a ranged transfer")
            self._forget(transfer)
            return
        key = (transfer.username, transfer.remote_path)
        running = asyncio.get_running_loop().create_future()
        self._running[key] = running
        try:
            await self._initialize(transfer, peer_connection, request, pt)
        except Exception as exc:
            # A bug (ours or aioslsk's) must end the range visibly, not leave it waiting.
            log.exception("transfer task failed", peer=transfer.username)
            pt.fail(RangeError.INTERNAL, f"internal error: {exc!r}")
        finally:
            try:
                if pt.done():
                    if not transfer.is_finalized():
                        await transfer.state.fail(reason="range finished")
                    self._forget(transfer)
            finally:
                running.set_result(None)
                if self._running.get(key) is running:
                    del self._running[key]
                now = asyncio.get_running_loop().time()
                # Only "just ended" matters: older entries would pile up in a long-lived daemon.
                self._ended_at = {k: t for k, t in self._ended_at.items() if now - t < RECENT_S}
                self._ended_at[key] = now

    async def _initialize(self, transfer: Transfer, peer_connection: PeerConnection,
                          request: PeerTransferRequest.Request, pt: PeerTransfer) -> None:
        await transfer.state.initialize()
        transfer.filesize = request.filesize
        if (problem := pt.announce(request.filesize)) is not None:
            peer_connection.queue_message(PeerTransferReply.Request(
                ticket=request.ticket, allowed=False, reason=FailReason.CANCELLED))
            pt.fail(*problem)
            await transfer.state.fail(reason=problem[1])
            return
        try:
            await peer_connection.send_message(
                PeerTransferReply.Request(ticket=request.ticket, allowed=True))
        except ConnectionWriteError:
            log.warning("could not accept the transfer", peer=transfer.username,
                        ticket=request.ticket)
            await transfer.state.queue()
            return

        username = peer_connection.username or transfer.username
        waiter = self._waiters.expect(username, request.ticket)
        try:
            await asyncio.wait({waiter, pt.ended}, timeout=FILE_CONNECTION_TIMEOUT,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiters.discard(username, request.ticket, waiter)
        if not waiter.done() or waiter.cancelled():
            if pt.done():
                return  # the caller gave up meanwhile; the finally above cleans up
            log.warning("peer did not open the file connection", peer=username,
                        ticket=request.ticket)
            waiter.cancel()
            await transfer.state.queue()  # aioslsk queues it at the peer again
            return
        connection = waiter.result()

        offset = await pt.ready(connection)
        if offset is None:  # released, cancelled or timed out while ready
            await connection.disconnect(CloseReason.REQUESTED)
            return
        transfer.bytes_transfered = offset
        try:
            await connection.send_message(uint64(offset).serialize())
        except ConnectionWriteError:
            log.warning("could not send the offset", peer=username, offset=offset)
            pt.fail(RangeError.PEER_CLOSED, "file connection closed before the offset was sent")
            return
        except asyncio.CancelledError:
            await connection.disconnect(CloseReason.REQUESTED)
            raise
        await self._stream_range(transfer, connection, pt)

    async def _download_file(self, transfer: Transfer, connection: PeerConnection) -> None:
        # aioslsk's whole-file download (offset = local file size, appended to local_path) is
        # never used: ``_initialize`` streams ranges itself and refuses anything else.
        await connection.disconnect(CloseReason.REQUESTED)
        await transfer.state.fail(reason="not a ranged transfer")

    async def _stream_range(self, transfer: Transfer, connection: PeerConnection,
                            pt: PeerTransfer) -> None:
        connection.set_connection_state(PeerConnectionState.TRANSFERRING)
        await transfer.state.start_transferring()
        try:
            await pt.stream(connection)
        finally:
            await connection.disconnect(CloseReason.REQUESTED)
            outcome = await pt.wait()
            transfer.bytes_transfered = (outcome.offset or 0) + outcome.bytes_written
            if outcome.ok:
                await transfer.state.complete()
            else:
                await transfer.state.fail(reason=outcome.reason)
            self._forget(transfer)

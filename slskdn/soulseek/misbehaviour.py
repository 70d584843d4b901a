"""Uploaders that misbehave on purpose, for the sandbox and the tests.

- ``stall_after``: after sending that many bytes of an upload, send nothing more but keep the
  connection open (a peer whose disk or link froze) until the downloader gives up.
- ``disconnect_after``: after that many bytes, close the file connection (a peer that crashed
  or dropped us mid-range).
- ``ignore_queue_requests``: silently drop that many queue requests first (as a peer does
  while it still thinks our previous transfer of the file is running).

Serving corrupt bytes needs no code: the sandbox gives that peer a copy of the file whose
content differs in one range but has the same size (see ``sandbox``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import aiofiles
from aiofiles.threadpool.binary import AsyncBufferedReader
from aioslsk.events import on_message
from aioslsk.exceptions import ConnectionReadError, ConnectionWriteError
from aioslsk.network.connection import CloseReason, PeerConnection, PeerConnectionState
from aioslsk.protocol.messages import PeerTransferQueue
from aioslsk.transfer.model import FailReason, Transfer

from slskdn.logs import get_logger

from .ranged import RangedTransferManager

log = get_logger(__name__)


@dataclass(frozen=True)
class Misbehaviour:
    stall_after: int | None = None  # bytes per upload, then silence
    disconnect_after: int | None = None  # bytes per upload, then close
    corrupt: tuple[int, int] | None = None  # [a, b) of every shared file differs (sandbox)
    ignore_queue_requests: int = 0

    @property
    def on_upload(self) -> bool:
        return self.stall_after is not None or self.disconnect_after is not None


class _Limited:
    """A file reader that ends after ``limit`` bytes."""

    def __init__(self, handle: AsyncBufferedReader, limit: int) -> None:
        self._handle = handle
        self._left = limit

    async def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = await self._handle.read(min(size, self._left) if size >= 0 else self._left)
        self._left -= len(data)
        return data


class MisbehavingTransferManager(RangedTransferManager):
    """A ``RangedTransferManager`` whose uploads stall or disconnect part-way."""

    def __init__(self, *args: Any, misbehaviour: Misbehaviour = Misbehaviour(),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.misbehaviour = misbehaviour
        self._queue_requests_to_ignore = misbehaviour.ignore_queue_requests

    # aioslsk dispatches peer messages by this decorator, so the override must carry it too.
    @on_message(PeerTransferQueue.Request)
    async def _on_peer_transfer_queue(self, message: PeerTransferQueue.Request,
                                      connection: PeerConnection) -> None:
        if self._queue_requests_to_ignore > 0:
            self._queue_requests_to_ignore -= 1
            log.info("ignoring a queue request on purpose", peer=connection.username)
            return
        await super()._on_peer_transfer_queue(message, connection)

    async def _upload_file(self, transfer: Transfer, connection: PeerConnection) -> None:
        mb = self.misbehaviour
        if not mb.on_upload or transfer.local_path is None:
            await super()._upload_file(transfer, connection)
            return
        limit = mb.stall_after if mb.stall_after is not None else mb.disconnect_after
        assert limit is not None
        connection.set_connection_state(PeerConnectionState.TRANSFERRING)
        await transfer.state.start_transferring()
        try:
            async with aiofiles.open(transfer.local_path, mode="rb") as handle:
                await handle.seek(transfer.bytes_transfered)
                reader = cast(AsyncBufferedReader, _Limited(handle, limit))
                await connection.send_file(reader, transfer._transfer_progress_callback)
            if mb.stall_after is not None:
                log.info("stalling upload on purpose", peer=transfer.username,
                         offset=transfer.bytes_transfered)
                # Silent but open: only the downloader closing the connection ends it.
                await connection.receive_until_eof(raise_exception=False)
            else:
                log.info("dropping upload on purpose", peer=transfer.username,
                         offset=transfer.bytes_transfered)
                await connection.disconnect(CloseReason.REQUESTED)
        except (ConnectionReadError, ConnectionWriteError, OSError):
            pass  # the downloader went away first: the upload just fails
        except asyncio.CancelledError:
            await connection.disconnect(CloseReason.REQUESTED)
            raise
        await transfer.state.fail(reason=FailReason.CANCELLED)

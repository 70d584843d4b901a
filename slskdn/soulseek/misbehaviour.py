"""Uploaders that misbehave on purpose, for the sandbox and the tests.

- ``stall_after``: after sending that many bytes of an upload, send nothing more but keep the
  connection open (a peer whose disk or link froze) until the downloader gives up.
- ``disconnect_after``: after that many bytes, close the file connection (a peer that crashed
  or dropped us mid-range).
- ``ignore_queue_requests``: silently drop that many queue requests first (as a peer does
  while it still thinks our previous transfer of the file is running).
- ``extra_bytes``: after the file's last byte, send that many junk bytes more (more than any
  range can ask for: a broken uploader, or a file that grew while it was served).
- ``size_delta``: announce the file that many bytes bigger (negative: smaller) than it is in the
  transfer request (a peer whose copy is not the file the search result described).

Serving corrupt bytes needs no code: the sandbox gives that peer a copy of the file whose
content differs in one range but has the same size (see ``sandbox``): every byte of it, or
every ``corrupt_stride``-th one (bit errors scattered through a copy).
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
    corrupt_stride: int = 1  # only every n-th byte of that span differs (scattered bit errors)
    ignore_queue_requests: int = 0
    extra_bytes: int = 0  # junk sent after the end of the file
    size_delta: int = 0  # added to the size announced in the transfer request

    @property
    def on_upload(self) -> bool:
        return (self.stall_after is not None or self.disconnect_after is not None
                or self.extra_bytes > 0)


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


class _Padded:
    """A file reader that goes on with ``extra`` junk bytes after the end of the file."""

    def __init__(self, handle: AsyncBufferedReader, extra: int) -> None:
        self._handle = handle
        self._left = extra

    async def read(self, size: int = -1) -> bytes:
        data = await self._handle.read(size)
        if data or self._left <= 0:
            return data
        n = self._left if size < 0 else min(size, self._left)
        self._left -= n
        return b"\xa5" * n


class MisbehavingTransferManager(RangedTransferManager):
    """A ``RangedTransferManager`` whose uploads misbehave (see the module docstring)."""

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

    async def _add_upload(self, username: str, remote_path: str) -> Transfer:
        # The size a new upload announces in its transfer request comes from here (not from
        # ``_initialize_upload``, which the sandbox's managers replace).
        transfer = await super()._add_upload(username, remote_path)
        if self.misbehaviour.size_delta and transfer.filesize is not None:
            transfer.filesize += self.misbehaviour.size_delta
            log.info("announcing a wrong file size on purpose", peer=username,
                     announced=transfer.filesize)
        return transfer

    async def _upload_file(self, transfer: Transfer, connection: PeerConnection) -> None:
        mb = self.misbehaviour
        if not mb.on_upload or transfer.local_path is None:
            await super()._upload_file(transfer, connection)
            return
        limit = mb.stall_after if mb.stall_after is not None else mb.disconnect_after
        connection.set_connection_state(PeerConnectionState.TRANSFERRING)
        await transfer.state.start_transferring()
        try:
            async with aiofiles.open(transfer.local_path, mode="rb") as handle:
                await handle.seek(transfer.bytes_transfered)
                reader = cast(AsyncBufferedReader, _Limited(handle, limit) if limit is not None
                              else _Padded(handle, mb.extra_bytes))
                await connection.send_file(reader, transfer._transfer_progress_callback)
            if limit is None:
                log.info("sent junk past the end of the file on purpose",
                         peer=transfer.username, extra=mb.extra_bytes)
                # As aioslsk's own upload: the downloader closes when it has what it wants.
                await connection.receive_until_eof(raise_exception=False)
            elif mb.stall_after is not None:
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

"""The upload handshake without aioslsk 1.7.1's two lost-reply races.

aioslsk's ``TransferManager._initialize_upload`` sends ``PeerTransferRequest`` and waits up to
``TRANSFER_REPLY_TIMEOUT`` (30 s) for the downloader's ``PeerTransferReply``; meanwhile the
downloader sees a peer that never starts. Two ways to lose the reply, both seen in the sandbox
once peers ran in their own processes (a downloader on loopback answers in ~1 ms; 1 in 4 to
1 in 8 runs of six 1 KiB probes lost one, before this fix):

- the waiting future is registered only *after* the send returns: a reply dispatched before
  the uploading coroutine resumes (a busy or descheduled uploader) matches nothing;
- in "race" connect mode the downloader opens a connection *and* asks the server for a reverse
  one, then closes the loser; both reach the uploader, which may send its request on the one
  about to close, where it dies unanswered.

``ReplyFirstUploads._initialize_upload`` is aioslsk's method with the future registered before
the request is sent, and the upload re-queued at once (aioslsk then retries on a live
connection) when the connection carrying the request closes before the reply. The rest is
unchanged. A private hook, like those in ``ranged``: aioslsk is pinned exactly.

``get_place_in_queue``: aioslsk answers a downloader's place-in-queue request with the upload's
index in its queue, and not at all when that is 0, so the next upload in line could never say
it is queued. Places here count from 1, as the protocol means them.
"""

from __future__ import annotations

import asyncio

from aioslsk.constants import TRANSFER_REPLY_TIMEOUT
from aioslsk.exceptions import ConnectionReadError, ConnectionWriteError, PeerConnectionError
from aioslsk.network.connection import ConnectionState, PeerConnection, PeerConnectionType
from aioslsk.network.network import ExpectedResponse
from aioslsk.protocol.messages import PeerTransferReply, PeerTransferRequest, SendUploadSpeed
from aioslsk.protocol.primitives import uint32
from aioslsk.transfer.manager import TransferManager
from aioslsk.transfer.model import Transfer, TransferDirection
from aioslsk.transfer.state import TransferState

from slskdn.logs import get_logger

log = get_logger(__name__)

_CLOSED = (ConnectionState.CLOSING, ConnectionState.CLOSED)
_POLL_S = 0.05  # aioslsk connections have no "closed" future to wait on


class ReplyFirstUploads(TransferManager):
    """Mix in before aioslsk's ``TransferManager`` (or a subclass of it)."""

    def get_place_in_queue(self, transfer: Transfer) -> int:
        """1 for the next upload to start, 0 when ``transfer`` is not waiting in the queue."""
        _, uploads = self._get_queued_transfers()
        return next((i for i, t in enumerate(uploads, 1) if t is transfer), 0)

    async def _initialize_upload(self, transfer: Transfer) -> None:
        await transfer.state.initialize()
        ticket = next(self._ticket_generator)
        reply = self._network.create_peer_response_future(
            transfer.username, PeerTransferReply.Request, fields={"ticket": ticket})
        try:
            carrier = await self._network.get_peer_connection(transfer.username)
            await carrier.send_message(PeerTransferRequest.Request(
                TransferDirection.DOWNLOAD.value, ticket, transfer.remote_path,
                filesize=transfer.filesize))
        except (ConnectionWriteError, PeerConnectionError):
            reply.cancel()
            await transfer.state.queue()
            return
        response = await _reply_while_open(reply, carrier)
        if response is None:
            reply.cancel()
            log.info("no transfer reply; queued again", peer=transfer.username, ticket=ticket,
                     connection_closed=carrier.state in _CLOSED)
            await transfer.state.queue()
            return
        if not response.allowed:
            await transfer.state.fail(reason=response.reason)
            return
        try:
            connection = await self._network.create_peer_connection(
                transfer.username, PeerConnectionType.FILE)
        except PeerConnectionError:
            await transfer.state.queue()
            return
        try:
            await connection.send_message(uint32(ticket).serialize())
        except ConnectionWriteError:
            await transfer.state.queue()
            return
        try:
            transfer.bytes_transfered = await connection.receive_transfer_offset()
        except ConnectionReadError:
            await transfer.state.queue()
            return
        await self._upload_file(transfer, connection)
        if transfer.state.VALUE == TransferState.COMPLETE:
            self._network.queue_server_messages(
                SendUploadSpeed.Request(int(transfer.get_speed())))


async def _reply_while_open(reply: ExpectedResponse,
                            carrier: PeerConnection) -> PeerTransferReply.Request | None:
    """The reply, or None after the timeout or once ``carrier`` closed without one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TRANSFER_REPLY_TIMEOUT
    while not reply.done():
        left = deadline - loop.time()
        if left <= 0 or carrier.state in _CLOSED:
            return None
        await asyncio.wait({reply}, timeout=min(_POLL_S, left))
    _, response = reply.result()
    return response  # type: ignore[no-any-return]

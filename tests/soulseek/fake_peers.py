"""Hand-made 'peers' for the bad-input tests: raw sockets that speak just enough Soulseek to log
in to the loopback server, then misbehave where a real client cannot be made to."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable

from aioslsk.protocol.messages import (
    CannotConnect,
    ConnectToPeer,
    Login,
    PeerInit,
    PeerTransferQueue,
    PeerTransferRequest,
    SetListenPort,
)

from slskdn.soulseek.server import LoopbackServer
from tests.soulseek.conftest import wait_until

# What the fake peer does with a connection made to its listening port.
Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def frame(code: int, body: bytes = b"") -> bytes:
    """A peer message frame: length, code, body."""
    return struct.pack("<II", 4 + len(body), code) + body


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(4)
    (length,) = struct.unpack("<I", header)
    return header + await reader.readexactly(length)


class FakePeer:
    """Logged in as ``name``. With ``answer`` its listening port runs it for every incoming
    connection; without, the port it announces is closed. It answers the server's
    ConnectToPeer with CannotConnect (it cannot reach us either): a peer nobody can connect to.
    """

    def __init__(self, server: LoopbackServer, name: str, answer: Answer | None = None) -> None:
        self.server = server
        self.name = name
        self.answer = answer
        self.connections = 0
        self._listener: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakePeer:
        port = closed_port()
        if self.answer is not None:
            self._listener = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            port = self._listener.sockets[0].getsockname()[1]
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        self._writer.write(Login.Request(self.name, "pw", 175, "", 1).serialize())
        self._writer.write(SetListenPort.Request(port).serialize())
        await self._writer.drain()
        self._task = asyncio.get_running_loop().create_task(self._refuse_indirect(reader))
        await wait_until(lambda: self.name in self.server.online_users())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()
        if self._listener is not None:
            self._listener.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        assert self.answer is not None
        try:
            await self.answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _refuse_indirect(self, reader: asyncio.StreamReader) -> None:
        assert self._writer is not None
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                data = await read_frame(reader)
                if struct.unpack_from("<I", data, 4)[0] == ConnectToPeer.Response.MESSAGE_ID:
                    ask = ConnectToPeer.Response.deserialize(0, data)
                    self._writer.write(CannotConnect.Request(ask.ticket, ask.username).serialize())
                    await self._writer.drain()


async def connect_as(port: int, name: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a peer connection to ``port`` and introduce ourselves as ``name`` (PeerInit)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(PeerInit.Request(name, "P", 0).serialize())
    await writer.drain()
    return reader, writer


async def until_queued(reader: asyncio.StreamReader) -> None:
    """Read peer frames until the downloader's queue request (PeerTransferQueue)."""
    while struct.unpack_from("<I", await read_frame(reader), 4)[0] != QUEUE_CODE:
        pass


def answering(data: bytes) -> Answer:
    """An answer: wait for the queue request, send ``data``, stay connected."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await until_queued(reader)
        writer.write(data)
        await writer.drain()
        await reader.read()

    return answer


QUEUE_CODE = int(PeerTransferQueue.Request.MESSAGE_ID)
# 1 GiB announced for a transfer request: over the cap, the connection is closed.
GIANT_FRAME = struct.pack("<II", 1 << 30, int(PeerTransferRequest.Request.MESSAGE_ID))
# A transfer request cut after its direction: no ticket, no file name, no size.
MALFORMED_REQUEST = frame(int(PeerTransferRequest.Request.MESSAGE_ID), b"\x01\x00\x00\x00")

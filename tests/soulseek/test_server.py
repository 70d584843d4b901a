"""The loopback server: logins, relays, and surviving clients that send garbage."""

from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path
from typing import Any

import pytest
from aioslsk.commands import GetPeerAddressCommand, GetUserStatusCommand
from aioslsk.protocol.messages import Login, ServerMessage

from slskdn.soulseek.client import SessionConfig, SessionError, SoulseekSession
from slskdn.soulseek.server import LoopbackServer
from tests.soulseek.conftest import run, wait_until


def _config(server: LoopbackServer, tmp_path: Path, name: str, password: str = "pw",
            **extra: Any) -> SessionConfig:
    return SessionConfig(host="127.0.0.1", port=server.port, username=name, password=password,
                         download_dir=tmp_path / name, listen_host="127.0.0.1", **extra)


def test_login_registers_then_checks_the_password(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = LoopbackServer()
        await server.start()
        try:
            async with SoulseekSession(_config(server, tmp_path, "alice", "secret")) as alice:
                assert alice.logged_in and alice.listen_port > 0
                assert server.online_users() == ["alice"]
                # What a peer needs to reach alice: her address, as the server hands it out.
                address = await alice.client.execute(
                    GetPeerAddressCommand("alice"), response=True)
                assert address is not None and address[:2] == ("127.0.0.1", alice.listen_port)
                status = await alice.client.execute(GetUserStatusCommand("alice"), response=True)
                assert status is not None and status.status.name == "ONLINE"

            with pytest.raises(SessionError, match=r"refused.*INVALIDPASS"):
                await SoulseekSession(_config(server, tmp_path, "alice", "wrong")).start()
            assert server.online_users() == []
        finally:
            await server.stop()

    run(scenario())


def test_no_server_gives_a_clear_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = LoopbackServer()
        await server.start()
        await server.stop()  # the port is now closed
        with pytest.raises(SessionError, match="cannot reach the Soulseek server"):
            await SoulseekSession(_config(server, tmp_path, "alice", login_timeout=5)).start()

    run(scenario())


def test_the_server_only_listens_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoopbackServer("0.0.0.0")


async def _send_raw(server: LoopbackServer, data: bytes) -> bytes:
    """Send bytes as a client would; return what the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(data)
    await writer.drain()
    try:
        async with asyncio.timeout(5):
            return await reader.read()  # b"" once the server closes the connection
    finally:
        writer.close()


@pytest.mark.parametrize(("label", "frame"), [
    ("oversized length", struct.pack("<I", 0x7FFFFFF0) + b"\x01\x00\x00\x00"),
    ("length below the code", struct.pack("<I", 2) + b"\x01\x00"),
    ("login with a string longer than its frame",
     struct.pack("<II", 8, 1) + struct.pack("<I", 1000)),
])
def test_a_malformed_frame_closes_that_connection_and_the_server_keeps_serving(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, label: str, frame: bytes) -> None:
    async def scenario() -> None:
        server = LoopbackServer()
        await server.start()
        try:
            async with SoulseekSession(_config(server, tmp_path, "carol")) as carol:
                answer = await _send_raw(server, frame)
                assert answer == b""  # closed without a reply
                assert len(server.malformed) == 1
                assert server.malformed[0].address.startswith("127.0.0.1:")
                # Everyone else is unaffected, and new clients still log in.
                async with SoulseekSession(_config(server, tmp_path, "dave")):
                    assert server.online_users() == ["carol", "dave"]
                assert carol.logged_in
        finally:
            await server.stop()

    with caplog.at_level(logging.WARNING, logger="slskdn.soulseek.server"):
        run(scenario())
    warnings = [r for r in caplog.records if r.name == "slskdn.soulseek.server"]
    assert warnings and warnings[0].getMessage().startswith("malformed frame")
    assert getattr(warnings[0], "address", "").startswith("127.0.0.1:")


def test_a_logged_in_client_sending_garbage_is_named_in_the_report(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = LoopbackServer()
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(Login.Request("eve", "pw", 175, "", 1).serialize())
            header = await reader.readexactly(4)
            reply = header + await reader.readexactly(struct.unpack("<I", header)[0])
            assert isinstance(ServerMessage.deserialize_response(reply), Login.Response)
            # GetPeerAddress (code 3) whose username length points past the frame.
            writer.write(struct.pack("<III", 8, 3, 50))
            await writer.drain()
            await wait_until(lambda: server.malformed)
            assert server.malformed[0].username == "eve"
            assert "message 3 does not decode" in server.malformed[0].reason
            await wait_until(lambda: server.online_users() == [])  # eve's session is gone
            writer.close()
        finally:
            await server.stop()

    run(scenario())

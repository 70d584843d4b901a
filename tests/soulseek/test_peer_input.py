"""What a peer may send on a peer connection: giant frames close it, malformed messages fail the
ranges negotiating with it; either way the peer is named in the log and the session lives on."""

from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path
from typing import Any

import pytest
from aioslsk.protocol.messages import PeerSharesReply, PeerTransferQueue

from slskdn.soulseek.peer_input import LARGE_PEER_MESSAGE_LIMITS, PEER_MESSAGE_LIMIT
from slskdn.soulseek.ranges import RangeError
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from tests.soulseek.conftest import MiB, run
from tests.soulseek.fake_peers import MALFORMED_REQUEST, FakePeer, answering, connect_as

TRACK = "Album/01 - Track.bin"
SIZE = MiB
SHARES_CODE = int(PeerSharesReply.Request.MESSAGE_ID)


def violations(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.getMessage().startswith("peer broke the protocol")]


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Did the other end close the connection within ``seconds``?"""
    try:
        async with asyncio.timeout(seconds):
            return await reader.read(1) == b""
    except TimeoutError:
        return False


async def works(sb: Sandbox, tmp_path: Path) -> bool:
    bob = sb.clients["bob"]
    outcome = await bob.download_range("alice", sb.remote_path("alice", TRACK), 0, 1000,
                                       tmp_path / "ok.part", start_timeout=10)
    return outcome.ok and bob.logged_in


def test_a_giant_frame_closes_the_connection_at_once_and_names_the_peer(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [PeerSpec("alice")]) as sb:
            bob = await sb.client("bob")
            # After introducing itself: 1 GiB announced for a queue request.
            reader, writer = await connect_as(bob.listen_port, "mallory")
            writer.write(struct.pack("<II", 1 << 30, int(PeerTransferQueue.Request.MESSAGE_ID)))
            await writer.drain()
            # Without the cap aioslsk waits for the GiB (or its 60 s read timeout).
            assert await closed_within(reader, 3)
            writer.close()

            # Before introducing itself: the first frame announces 2 GiB.
            reader, writer = await asyncio.open_connection("127.0.0.1", bob.listen_port)
            writer.write(b"\xff\xff\xff\x7f" + bytes(8))
            await writer.drain()
            assert await closed_within(reader, 3)
            writer.close()

            assert await works(sb, tmp_path)

    with caplog.at_level(logging.WARNING):
        run(scenario())
    found = violations(caplog)
    assert [getattr(r, "peer", None) for r in found] == ["mallory", None]
    assert all(r.getMessage().endswith("connection closed") for r in found)
    assert found[0].reason == (f"announced a {1 << 30}-byte message (code 43), over the "
                               f"{PEER_MESSAGE_LIMIT}-byte limit")
    assert "2147483647-byte message" in found[1].reason
    assert found[1].address.startswith("127.0.0.1:")


def test_a_share_list_may_be_bigger_but_a_malformed_one_is_reported(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    size = 6 * MiB  # over the ordinary cap, under the share-list cap
    assert PEER_MESSAGE_LIMIT < size < LARGE_PEER_MESSAGE_LIMITS[SHARES_CODE]

    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [PeerSpec("alice")]) as sb:
            bob = await sb.client("bob")
            reader, writer = await connect_as(bob.listen_port, "mallory")
            writer.write(struct.pack("<II", size + 4, SHARES_CODE) + b"\x00" * size)  # not zlib
            await writer.drain()
            # Read in full, found malformed, skipped: the connection stays open.
            assert not await closed_within(reader, 1)
            writer.close()
            assert await works(sb, tmp_path)

    with caplog.at_level(logging.WARNING):
        run(scenario())
    (found,) = violations(caplog)
    assert found.getMessage() == "peer broke the protocol" and found.peer == "mallory"
    assert found.reason.startswith(f"sent a malformed message (code {SHARES_CODE}, ")


def test_a_malformed_transfer_request_fails_the_range_with_the_reason(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [PeerSpec("alice")]) as sb:
            bob = await sb.client("bob")
            async with FakePeer(sb.server, "mallory", answering(MALFORMED_REQUEST)):
                bad = await bob.download_range("mallory", "@@x\\a.bin", 0, 100,
                                               tmp_path / "m.part", start_timeout=20)
            assert bad.error is RangeError.PROTOCOL_ERROR
            assert bad.reason.startswith("peer sent a malformed message (code 40, 12 bytes)")
            assert bad.waited_s < 5
            assert await works(sb, tmp_path)

    run(scenario())

"""Peers that die, stall, drop, lie or send garbage: clear outcomes, and the session lives on."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import struct
from pathlib import Path

import pytest
from aioslsk.protocol.messages import Login, SetListenPort

from slskdn.soulseek.misbehaviour import Misbehaviour
from slskdn.soulseek.ranges import RangeError, RangeProgress
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from tests.soulseek.conftest import MiB, run, wait_until

TRACK = "Album/01 - Track.bin"
SIZE = 3 * MiB


def test_a_peer_killed_mid_range_gives_peer_closed_with_the_bytes_so_far(tmp_path: Path) -> None:
    async def scenario() -> None:
        peers = [PeerSpec("alice", upload_kbps=512), PeerSpec("carol")]
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], peers) as sb:
            bob = await sb.client("bob")
            part = tmp_path / "k.part"
            halfway = asyncio.Event()

            def watch(p: RangeProgress) -> None:
                if p.bytes_so_far >= 600_000:  # past the 512 KiB burst: it now trickles
                    halfway.set()

            transfer = bob.negotiate("alice", sb.remote_path("alice", TRACK), part,
                                     offset=0, end=SIZE, on_progress=watch)
            await halfway.wait()
            await sb.kill_peer("alice")
            outcome = await transfer.wait()

            assert outcome.error is RangeError.PEER_CLOSED
            assert f"at offset {outcome.bytes_written}" in outcome.reason
            assert 600_000 <= outcome.bytes_written < SIZE
            n = outcome.bytes_written
            assert part.read_bytes()[:n] == sb.content(TRACK)[:n]
            assert outcome.sha256 == hashlib.sha256(sb.content(TRACK)[:n]).hexdigest()

            # The session is fine: another peer serves the rest.
            rest = await bob.download_range("carol", sb.remote_path("carol", TRACK), n, SIZE,
                                            part, start_timeout=10)
            assert rest.ok, rest.reason
            assert hashlib.sha256(part.read_bytes()).hexdigest() == sb.sha256(TRACK)

    run(scenario())


def test_a_peer_that_drops_the_connection_is_reported_at_the_exact_byte(tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = PeerSpec("dropper", misbehaviour=Misbehaviour(disconnect_after=700_000))
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [spec]) as sb:
            bob = await sb.client("bob")
            outcome = await bob.download_range(
                "dropper", sb.remote_path("dropper", TRACK), 100_000, SIZE,
                tmp_path / "d.part", start_timeout=10)
            assert outcome.error is RangeError.PEER_CLOSED
            assert outcome.bytes_written == 700_000
            assert "offset 800000" in outcome.reason

    run(scenario())


def test_a_stalled_peer_is_reported_and_can_be_cut_at_its_position(tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = PeerSpec("staller", misbehaviour=Misbehaviour(stall_after=500_000))
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [spec]) as sb:
            bob = await sb.client("bob")
            remote = sb.remote_path("staller", TRACK)

            stalled = await bob.download_range("staller", remote, 0, SIZE, tmp_path / "s.part",
                                               start_timeout=10, stall_timeout=0.5)
            assert stalled.error is RangeError.STALLED
            assert stalled.bytes_written == 500_000
            assert "no data for 0.5 s at offset 500000" in stalled.reason

            # What the scheduler does instead: see progress stop, move the end to the position.
            positions: list[int] = []
            transfer = bob.negotiate("staller", remote, tmp_path / "s2.part", offset=0, end=SIZE,
                                     on_progress=lambda p: positions.append(p.position))
            await wait_until(lambda: positions and positions[-1] == 500_000)
            transfer.set_end(positions[-1])
            cut = await transfer.wait()
            assert cut.ok and cut.bytes_written == 500_000 and cut.end == 500_000

    run(scenario())


def test_a_corrupt_copy_has_the_same_size_but_other_bytes_in_its_span(tmp_path: Path) -> None:
    span = (1_000_000, 1_065_536)

    async def scenario() -> None:
        peers = [PeerSpec("good"), PeerSpec("liar", misbehaviour=Misbehaviour(corrupt=span))]
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], peers) as sb:
            bob = await sb.client("bob")
            outcome = await bob.download_range("liar", sb.remote_path("liar", TRACK), 0, SIZE,
                                               tmp_path / "l.part", expected_size=SIZE,
                                               start_timeout=10)
            assert outcome.ok and outcome.file_size == SIZE  # nothing looks wrong here...
            got, truth = (tmp_path / "l.part").read_bytes(), sb.content(TRACK)
            differs = [i for i in range(SIZE) if got[i] != truth[i]]
            assert differs[0] >= span[0] and differs[-1] < span[1]  # ...only the hash tells
            assert outcome.sha256 != sb.sha256(TRACK)

    run(scenario())


def test_a_peer_that_ignores_our_queue_request_is_asked_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = PeerSpec("deaf", misbehaviour=Misbehaviour(ignore_queue_requests=1))
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [spec],
                           requeue_interval=0.5) as sb:
            bob = await sb.client("bob")
            outcome = await bob.download_range("deaf", sb.remote_path("deaf", TRACK), 0, 1000,
                                               tmp_path / "q.part", start_timeout=10)
            assert outcome.ok, outcome.reason
            assert outcome.waited_s >= 0.5

    run(scenario())


async def _fake_peer(sb: Sandbox, name: str,
                     garbage: bytes) -> tuple[asyncio.Server, asyncio.StreamWriter]:
    """A 'peer' logged in to the sandbox server whose listening port answers with garbage.
    Returns its listener and its server connection (closing that logs it out)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        writer.write(garbage)
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", sb.server.port)
    writer.write(Login.Request(name, "pw", 175, "", 1).serialize())
    writer.write(SetListenPort.Request(port).serialize())
    await writer.drain()
    await wait_until(lambda: name in sb.server.online_users())
    return listener, writer


def test_garbage_from_a_peer_gives_a_clear_outcome_and_the_session_lives_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A frame with a plausible length and an unknown message code (skipped, as a newer client's
    # message would be), then random bytes: their "length" is 0x03020100, over the cap.
    garbage = struct.pack("<II", 8, 0xDEAD) + b"\x01\x02\x03\x04" + bytes(range(256)) * 4

    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [PeerSpec("alice")]) as sb:
            bob = await sb.client("bob")
            listener, login = await _fake_peer(sb, "mallory", garbage)
            try:
                bad = await bob.download_range("mallory", "@@x\\a.flac", 0, 100,
                                               tmp_path / "m.part", start_timeout=20)
                assert bad.error is RangeError.PROTOCOL_ERROR
                assert bad.reason == ("peer announced a 50462976-byte message (code 117835012), "
                                      "over the 4194304-byte limit")
                assert bad.waited_s < 5 and bad.bytes_written == 0  # at once, not at a timeout
                assert not (tmp_path / "m.part").exists()

                # Junk straight into our listening port: dropped, nothing else disturbed.
                _, writer = await asyncio.open_connection("127.0.0.1", bob.listen_port)
                writer.write(b"\xff\xff\xff\x7f" + bytes(64))
                await writer.drain()
                writer.close()

                good = await bob.download_range("alice", sb.remote_path("alice", TRACK), 0,
                                                1000, tmp_path / "g.part", start_timeout=10)
                assert good.ok, good.reason
                assert bob.logged_in
            finally:
                listener.close()
                login.close()

    with caplog.at_level(logging.WARNING):
        run(scenario())
    broke = [r for r in caplog.records if r.getMessage() == "peer broke the protocol; "
             "connection closed" and getattr(r, "peer", None) == "mallory"]
    assert broke and "50462976-byte message" in broke[0].reason  # type: ignore[attr-defined]

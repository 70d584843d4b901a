"""Sandbox peers in their own OS processes: they serve, misbehave, and die for real."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from slskdn.soulseek.misbehaviour import Misbehaviour
from slskdn.soulseek.ranges import RangeError, RangeProgress
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.sandbox_peer import StrictRateLimiter
from tests.soulseek.conftest import MiB, run, wait_until

TRACK = "Album/01 - Track.bin"
SIZE = 3 * MiB


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_peers_run_in_their_own_processes_and_serve_exact_bytes(tmp_path: Path) -> None:
    async def scenario() -> None:
        peers = [PeerSpec("alice", upload_kbps=4096), PeerSpec("carol"), PeerSpec("dave")]
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], peers,
                           peer_processes=2) as sb:
            pids = {name: sb.hosts[name].pid for name in sb.specs}
            assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
            assert all(pid is not None and alive(pid) for pid in pids.values())
            assert not sb.peers  # nothing on this loop
            assert set(sb.server.online_users()) == {"alice", "carol", "dave"}

            bob = await sb.client("bob")
            for name in sb.specs:
                part = tmp_path / f"{name}.part"
                outcome = await bob.download_range(name, sb.remote_path(name, TRACK), 1000,
                                                   SIZE, part, start_timeout=20)
                assert outcome.ok, outcome.reason
                assert part.read_bytes()[1000:] == sb.content(TRACK)[1000:]
            assert all(h.cpu_seconds() is not None for h in sb.host_list())
        assert not any(alive(pid) for pid in pids.values() if pid is not None)  # stopped

    run(scenario(), timeout=90)


def test_killing_a_peer_kills_its_process_mid_range(tmp_path: Path) -> None:
    async def scenario() -> None:
        peers = [PeerSpec("alice", upload_kbps=512), PeerSpec("carol")]
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], peers,
                           peer_processes=2) as sb:
            bob = await sb.client("bob")
            pid = sb.hosts["alice"].pid
            assert pid is not None
            part = tmp_path / "k.part"
            going = asyncio.Event()

            def watch(p: RangeProgress) -> None:
                if p.bytes_so_far >= 200_000:
                    going.set()

            transfer = bob.negotiate("alice", sb.remote_path("alice", TRACK), part,
                                     offset=0, end=SIZE, on_progress=watch)
            await going.wait()
            await sb.kill_peer("alice")

            assert not alive(pid)  # SIGKILLed and reaped, not logged out politely
            outcome = await transfer.wait()
            assert outcome.error is RangeError.PEER_CLOSED
            assert 200_000 <= outcome.bytes_written < SIZE
            n = outcome.bytes_written
            assert part.read_bytes()[:n] == sb.content(TRACK)[:n]
            await wait_until(lambda: "alice" not in sb.server.online_users())
            assert sb.online_peers() == ["carol"]
            assert [p["online"] for p in sb.state()["peers"]] == [False, True]
            with pytest.raises(KeyError, match="alice"):
                await sb.kill_peer("alice")

    run(scenario(), timeout=90)


def test_a_peer_sharing_a_process_vanishes_alone_and_misbehaviour_crosses_over(
        tmp_path: Path) -> None:
    span = (1_000_000, 1_065_536)

    async def scenario() -> None:
        peers = [PeerSpec("liar", misbehaviour=Misbehaviour(corrupt=span)),
                 PeerSpec("dropper", misbehaviour=Misbehaviour(disconnect_after=700_000)),
                 PeerSpec("victim")]
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], peers,
                           peer_processes=1) as sb:
            bob = await sb.client("bob")
            got = await bob.download_range("liar", sb.remote_path("liar", TRACK), 0, SIZE,
                                           tmp_path / "l.part", start_timeout=20)
            data, truth = (tmp_path / "l.part").read_bytes(), sb.content(TRACK)
            assert got.ok and data != truth
            assert data[:span[0]] == truth[:span[0]] and data[span[1]:] == truth[span[1]:]

            dropped = await bob.download_range("dropper", sb.remote_path("dropper", TRACK), 0,
                                               SIZE, tmp_path / "d.part", start_timeout=20)
            assert dropped.error is RangeError.PEER_CLOSED
            assert dropped.bytes_written == 700_000

            pid = sb.hosts["victim"].pid
            assert pid is not None
            await sb.kill_peer("victim")
            await wait_until(lambda: "victim" not in sb.server.online_users())
            assert alive(pid)  # the others in its process live on
            again = await bob.download_range("liar", sb.remote_path("liar", TRACK), 0, 1000,
                                             tmp_path / "again.part", start_timeout=20)
            assert again.ok, again.reason

    run(scenario(), timeout=90)


def test_a_strict_limiter_sends_its_cap_and_saves_up_no_more_than_its_bucket() -> None:
    now = [100.0]
    limiter = StrictRateLimiter(1024, 2.0, clock=lambda: now[0])  # 1 MiB/s, 2 s bucket
    assert limiter.capacity == limiter.max_chunk_size + 2 * MiB

    now[0] += 3600.0  # idle for an hour: the bucket is full, not an hour's worth
    limiter.refill()
    assert limiter.bucket == limiter.capacity

    limiter.bucket = 0
    for i in range(1000):  # a second in uneven steps: exactly one second of the cap
        now[0] += 0.0007 if i % 2 else 0.0013
        limiter.refill()
    assert abs(limiter.bucket - MiB) <= 1

    slack = StrictRateLimiter(8192, 0.0)
    # Never a one-chunk bucket: tokens earned while the uploader sleeps between polls would
    # be thrown away (a one-chunk bucket delivered 5.8 of 8 MiB/s).
    assert slack.capacity >= slack.max_chunk_size + int(0.05 * 8 * MiB)
    assert PeerSpec("p", upload_kbps=8192, upload_burst_s=0).burst_bytes == slack.capacity
    assert PeerSpec("p", upload_kbps=8192).burst_bytes == 8 * MiB  # aioslsk's own: 1 s


def test_the_share_of_an_honest_peer_is_the_reference_file_not_a_copy(tmp_path: Path) -> None:
    async def scenario() -> None:
        peers = [PeerSpec("a"), PeerSpec("b"), PeerSpec("liar", misbehaviour=Misbehaviour(
            corrupt=(0, 10)))]
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], peers) as sb:
            shares = {n: tmp_path / "peers" / n / "share" / "Album" / "01 - Track.bin"
                      for n in sb.specs}
            reference = sb.reference(TRACK).stat()
            assert shares["a"].stat().st_ino == shares["b"].stat().st_ino == reference.st_ino
            assert shares["liar"].stat().st_ino != reference.st_ino
            assert hashlib.sha256(shares["a"].read_bytes()).hexdigest() == sb.sha256(TRACK)

    run(scenario())

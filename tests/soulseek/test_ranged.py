"""Ranged downloads [a, b) through real aioslsk peers in the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from slskdn.soulseek.ranges import (
    RangeConflictError,
    RangeError,
    RangeProgress,
    RangeStateError,
)
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.transfer import PeerTransfer, Phase
from tests.soulseek.conftest import MiB, run

TRACK = "Album/01 - Track.bin"
SIZE = 3 * MiB
SENTINEL = 0xEE


def prefilled(path: Path, size: int) -> Path:
    """A part file full of a sentinel byte, to see exactly which bytes a range touched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes([SENTINEL]) * size)
    return path


def test_a_range_writes_exactly_its_bytes_at_its_offset(tmp_path: Path) -> None:
    a, b = 1_000_003, 2_345_679

    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [PeerSpec("alice")]) as sb:
            bob = await sb.client("bob")
            part = prefilled(tmp_path / "bob.part", SIZE)
            progress: list[RangeProgress] = []
            outcome = await bob.download_range(
                "alice", sb.remote_path("alice", TRACK), a, b, part, progress.append,
                start_timeout=10)
            source = sb.content(TRACK)
            data = part.read_bytes()

            assert outcome.ok, outcome.reason
            assert (outcome.offset, outcome.end, outcome.bytes_written) == (a, b, b - a)
            assert outcome.file_size == SIZE
            assert outcome.sha256 == hashlib.sha256(source[a:b]).hexdigest()
            assert data[a:b] == source[a:b]
            assert data[:a] == bytes([SENTINEL]) * a  # nothing before a touched
            assert data[b:] == bytes([SENTINEL]) * (SIZE - b)  # no overshoot past b
            assert len(data) == SIZE  # the part file was not truncated
            assert progress and progress[-1].bytes_so_far == b - a
            assert progress[-1].position == b
            assert [p.bytes_so_far for p in progress] == sorted(p.bytes_so_far for p in progress)

    run(scenario())


def test_three_peers_fill_one_part_file_concurrently(tmp_path: Path) -> None:
    peers = [PeerSpec(name, upload_kbps=512) for name in ("p1", "p2", "p3")]
    cuts = [0, 1 * MiB, 2 * MiB, SIZE]

    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], peers) as sb:
            bob = await sb.client("bob")
            part = tmp_path / "downloads" / "track.part"  # does not exist yet
            started = time.monotonic()
            outcomes = await asyncio.gather(*(
                bob.download_range(p.name, sb.remote_path(p.name, TRACK), cuts[i], cuts[i + 1],
                                   part, start_timeout=10)
                for i, p in enumerate(peers)))
            wall = time.monotonic() - started

            assert all(o.ok for o in outcomes), [o.reason for o in outcomes]
            assert [o.username for o in outcomes] == ["p1", "p2", "p3"]
            assert hashlib.sha256(part.read_bytes()).hexdigest() == sb.sha256(TRACK)
            # They streamed at the same time: together faster than one after the other.
            assert wall < 0.8 * sum(o.duration_s for o in outcomes)

    run(scenario())


def test_range_chosen_when_the_source_is_ready_and_blocks_are_hashed(tmp_path: Path) -> None:
    block = 256 * 1024
    a, b = 300_000, 1_700_000  # not aligned: the partial blocks at both ends are not hashed

    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [PeerSpec("alice")]) as sb:
            bob = await sb.client("bob")
            ready: asyncio.Queue[PeerTransfer] = asyncio.Queue()
            blocks: dict[int, str] = {}
            transfer = bob.negotiate(
                "alice", sb.remote_path("alice", TRACK), tmp_path / "t.part",
                block_size=block, on_ready=ready.put_nowait,
                on_progress=lambda p: blocks.update(p.blocks))
            assert (await ready.get()) is transfer
            assert transfer.phase is Phase.READY and transfer.file_size == SIZE
            transfer.request(a, b)
            outcome = await transfer.wait()

            source = sb.content(TRACK)
            assert outcome.ok and outcome.bytes_written == b - a
            expected = {k: hashlib.sha256(source[k * block:(k + 1) * block]).hexdigest()
                        for k in range(-(-a // block), b // block)}
            assert blocks == expected
            with pytest.raises(RangeStateError):
                transfer.request(0, 10)

    run(scenario())


def test_a_range_cut_short_stops_there_and_the_peer_serves_the_rest_next(tmp_path: Path) -> None:
    a, b = 0, 2 * MiB

    async def scenario() -> None:
        spec = PeerSpec("alice", upload_kbps=1024)  # a 1 MiB burst, then 1 MiB/s
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [spec]) as sb:
            bob = await sb.client("bob")
            remote = sb.remote_path("alice", TRACK)
            part = prefilled(tmp_path / "cut.part", SIZE)
            past_burst = asyncio.Event()

            def watch(p: RangeProgress) -> None:
                if p.bytes_so_far > 300_000:
                    past_burst.set()

            transfer = bob.negotiate("alice", remote, part, offset=a, end=b, on_progress=watch)
            await past_burst.wait()
            assert transfer.position is not None
            new_end = transfer.set_end(transfer.position + 100_000)
            outcome = await transfer.wait()

            source = sb.content(TRACK)
            assert outcome.ok, outcome.reason
            assert outcome.end == new_end < b
            assert outcome.bytes_written == new_end - a
            data = part.read_bytes()
            assert data[a:new_end] == source[a:new_end]
            assert data[new_end:] == bytes([SENTINEL]) * (SIZE - new_end)

            # Work stealing asks the same peer for another range of the same file at once,
            # while its previous upload may not have noticed the closed connection yet.
            rest = await bob.download_range("alice", remote, new_end, b, part,
                                            start_timeout=15)
            assert rest.ok, rest.reason
            data = part.read_bytes()
            assert data[:b] == source[:b]
            assert data[b:] == bytes([SENTINEL]) * (SIZE - b)

    run(scenario(), timeout=45)


def test_cancel_mid_stream_reports_the_bytes_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = PeerSpec("alice", upload_kbps=256)
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [spec]) as sb:
            bob = await sb.client("bob")
            part = prefilled(tmp_path / "c.part", SIZE)
            streaming = asyncio.Event()
            transfer = bob.negotiate("alice", sb.remote_path("alice", TRACK), part, offset=0,
                                     end=SIZE, on_progress=lambda p: streaming.set())
            await streaming.wait()
            transfer.cancel("test says stop")
            outcome = await transfer.wait()

            assert outcome.error is RangeError.CANCELLED
            assert outcome.reason == "test says stop"
            assert 0 < outcome.bytes_written < SIZE
            data = part.read_bytes()
            n = outcome.bytes_written
            assert data[:n] == sb.content(TRACK)[:n]
            assert data[n:] == bytes([SENTINEL]) * (SIZE - n)  # every written byte is counted

    run(scenario())


def test_refusals_and_mistakes_end_quickly_with_a_reason(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Sandbox(tmp_path, [SandboxFile(TRACK, SIZE)], [PeerSpec("alice")]) as sb:
            bob = await sb.client("bob")
            remote = sb.remote_path("alice", TRACK)
            part = tmp_path / "x.part"
            started = time.monotonic()

            missing = await bob.download_range("alice", remote + ".nope", 0, 10, part,
                                               start_timeout=10)
            assert missing.error is RangeError.REJECTED
            assert "not shared" in missing.reason.lower()

            nobody = await bob.download_range("nobody", remote, 0, 10, part, start_timeout=10)
            assert nobody.error is RangeError.UNREACHABLE

            wrong_size = await bob.download_range("alice", remote, 0, 10, part,
                                                  expected_size=SIZE + 1, start_timeout=10)
            assert wrong_size.error is RangeError.SIZE_MISMATCH
            assert str(SIZE) in wrong_size.reason

            past_end = await bob.download_range("alice", remote, 0, SIZE + 1, part,
                                                start_timeout=10)
            assert past_end.error is RangeError.BAD_RANGE
            assert not part.exists()  # nothing was written by any of them
            assert time.monotonic() - started < 10

            first = bob.negotiate("alice", remote, part, offset=0, end=10)
            with pytest.raises(RangeConflictError):
                bob.negotiate("alice", remote, part, offset=10, end=20)
            assert (await first.wait()).ok

    run(scenario())

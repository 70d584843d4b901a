"""First write wins in the data path: ``WrittenRanges`` and the streams' claims on a real file."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slskdn.soulseek.misbehaviour import Misbehaviour
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.written import PREVIOUS_RUN, StreamClaim, WrittenRanges
from tests.soulseek.conftest import MiB, run

SIZE = 1000
REAL_SIZE = 4 * MiB
TRACK = "Album/01 - Track.bin"


@pytest.fixture
def fd(tmp_path: Path) -> Iterator[int]:
    path = tmp_path / "f.part"
    path.write_bytes(bytes(SIZE))
    handle = os.open(path, os.O_RDWR)
    yield handle
    os.close(handle)


def write(claim: StreamClaim, fd: int, offset: int, fill: int, n: int) -> int:
    return claim.write(fd, offset, memoryview(bytes([fill]) * n))


def content(fd: int) -> bytes:
    return os.pread(fd, SIZE, 0)


def test_a_later_stream_writes_only_the_bytes_nobody_wrote(fd: int) -> None:
    ranges = WrittenRanges()
    first, second = ranges.stream(), ranges.stream()
    assert write(first, fd, 100, 1, 200) == 200  # [100, 300)
    assert write(second, fd, 50, 2, 300) == 100  # [50, 350): only [50, 100) and [300, 350)

    data = content(fd)
    assert data[50:100] == b"\x02" * 50
    assert data[100:300] == b"\x01" * 200
    assert data[300:350] == b"\x02" * 50
    assert ranges.spans() == [(50, 100, second.owner), (100, 300, first.owner),
                              (300, 350, second.owner)]
    assert second.received == 350  # it still received (and hashes) all of it


def test_forgotten_bytes_are_written_again_by_the_next_stream(fd: int) -> None:
    ranges = WrittenRanges()
    liar, honest = ranges.stream(), ranges.stream()
    write(liar, fd, 0, 0xEE, 400)
    assert write(honest, fd, 0, 0x11, 400) == 0  # first write wins: the liar's bytes stay

    ranges.forget(0, 400)  # the liar was convicted
    replacement = ranges.stream()
    assert write(replacement, fd, 0, 0x11, 400) == 400
    assert content(fd)[:400] == b"\x11" * 400


def test_a_limit_stops_writes_and_forgets_what_the_stream_wrote_past_it(fd: int) -> None:
    ranges = WrittenRanges()
    victim, thief = ranges.stream(), ranges.stream()
    write(victim, fd, 0, 1, 600)  # ran ahead of what the swarm knew
    victim.set_limit(400)  # the swarm moved its end: [400, 600) belongs to the thief
    assert ranges.gaps(0, SIZE) == [(400, SIZE)]
    assert write(victim, fd, 600, 1, 100) == 0  # nothing past its end any more
    assert write(thief, fd, 400, 2, 300) == 300
    assert content(fd)[380:720] == b"\x01" * 20 + b"\x02" * 300 + b"\x00" * 20


def test_a_stopped_stream_keeps_only_what_it_reported(fd: int) -> None:
    ranges = WrittenRanges()
    claim = ranges.stream()
    write(claim, fd, 0, 1, 100)
    assert claim.advance() == 100
    write(claim, fd, 100, 1, 150)  # not reported yet
    assert claim.stop() == 100
    assert ranges.spans() == [(0, 100, claim.owner)]
    claim.set_limit(SIZE)  # a stopped stream never writes again, whatever it is told
    assert write(claim, fd, 250, 1, 100) == 0


def test_a_stream_cancelled_before_its_last_report_was_taken_keeps_only_what_was(
        fd: int) -> None:
    # The swarm cancelled it having taken its reports to 60; the report to 100 was still on
    # its way. Bytes 60–100 must go, or the next stream there would skip them and be
    # credited with them (an honest peer blamed for a liar's bytes).
    ranges = WrittenRanges()
    claim, nxt = ranges.stream(), ranges.stream()
    write(claim, fd, 0, 1, 100)
    assert claim.advance() == 100
    assert claim.stop(credited=60) == 60
    assert ranges.spans() == [(0, 60, claim.owner)]
    assert write(nxt, fd, 60, 2, 40) == 40
    assert content(fd)[60:100] == b"\x02" * 40


def test_positions_are_passed_on_once_and_capped_at_the_limit(fd: int) -> None:
    ranges = WrittenRanges()
    claim = ranges.stream()
    assert claim.advance() is None  # nothing written yet
    write(claim, fd, 200, 1, 300)
    claim.set_limit(400)
    assert claim.advance() == 400
    assert claim.advance() is None


def test_a_stream_reports_skipped_bytes_only_after_their_writer_did(fd: int) -> None:
    ranges = WrittenRanges()
    first, second = ranges.stream(), ranges.stream()
    write(first, fd, 100, 1, 200)  # [100, 300): first's, not reported yet
    write(second, fd, 0, 2, 400)  # wrote [0, 100) and [300, 400), skipped [100, 300)
    assert second.advance() == 100  # held before the bytes it skipped
    assert first.advance() == 300
    assert second.advance() == 400  # now the swarm has heard of them from their writer


def test_restored_bytes_count_as_written_by_an_earlier_run(fd: int) -> None:
    ranges = WrittenRanges()
    ranges.restore(0, 300)
    assert write(ranges.stream(), fd, 0, 1, 500) == 200
    assert ranges.spans()[0] == (0, 300, PREVIOUS_RUN)


def test_concurrent_streams_leave_every_byte_to_exactly_one_writer(fd: int) -> None:
    ranges = WrittenRanges()
    claims = [ranges.stream() for _ in range(4)]

    def run(i: int) -> None:
        for offset in range(0, SIZE, 50):
            write(claims[i], fd, offset, i + 1, 50)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = content(fd)
    spans = ranges.spans()
    assert sum(b - a for a, b, _ in spans) == SIZE
    owner_fill = {c.owner: i + 1 for i, c in enumerate(claims)}
    for a, b, owner in spans:  # what is on disk is what the owner wrote
        assert data[a:b] == bytes([owner_fill[owner]]) * (b - a)


def test_a_stream_that_skipped_forgotten_bytes_is_frozen_where_it_skipped(fd: int) -> None:
    ranges = WrittenRanges()
    frozen: list[StreamClaim] = []
    ranges.on_freeze = frozen.append
    liar, racer, bystander = ranges.stream(), ranges.stream(), ranges.stream()
    write(liar, fd, 0, 0xEE, 300)  # first: [0, 300) is the liar's
    assert liar.advance() == 300
    write(racer, fd, 100, 1, 100)  # skips [100, 200)
    assert racer.advance() == 200  # the swarm saw it up to 200 (duplicates: the liar was first)
    write(racer, fd, 200, 1, 300)  # skips [200, 300), writes [300, 500)
    write(bystander, fd, 600, 2, 100)

    liar.stop()  # convicted: cancelled, then its bytes forgotten
    assert ranges.forget(0, 300) == [racer] == frozen
    # Its next report would credit it with [200, 300): the liar's bytes, still on disk.
    assert racer.limit == 100 and racer.stopped and racer.frozen
    assert racer.advance() is None
    assert ranges.spans() == [(600, 700, bystander.owner)]  # its unreported [300, 500) too
    assert write(racer, fd, 500, 1, 100) == 0
    assert not bystander.frozen


def test_cutting_a_stream_freezes_one_that_skipped_what_it_wrote_past_the_cut(fd: int) -> None:
    ranges = WrittenRanges()
    victim, racer = ranges.stream(), ranges.stream()
    write(victim, fd, 0, 0xEE, 200)
    assert victim.advance() == 200
    write(victim, fd, 200, 0xEE, 300)  # ran ahead: the swarm knows [0, 200) only
    write(racer, fd, 300, 1, 400)  # skips [300, 500), writes [500, 700)
    victim.set_limit(400)  # the swarm cut it: [400, 500) is no longer the victim's
    # The racer's report would cover [400, 500) with the victim's stale bytes.
    assert racer.frozen and racer.limit == 400
    assert ranges.spans() == [(0, 400, victim.owner)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["write", "forget", "limit", "stop", "advance"]),
                          st.integers(0, 3), st.integers(0, SIZE), st.integers(1, 300)),
                max_size=40))
def test_what_is_on_disk_is_what_the_owner_wrote(tmp_path_factory: pytest.TempPathFactory,
                                                 ops: list[tuple[str, int, int, int]]) -> None:
    path = tmp_path_factory.mktemp("w") / "p"
    path.write_bytes(bytes(SIZE))
    fd = os.open(path, os.O_RDWR)
    try:
        ranges = WrittenRanges()
        claims = [ranges.stream() for _ in range(4)]
        fill = {c.owner: i + 1 for i, c in enumerate(claims)}
        for op, who, start, length in ops:
            claim, end = claims[who], min(SIZE, start + length)
            owned_before = {(a, b) for a, b, o in ranges.spans() if o == claim.owner}
            if op == "write" and start < end:
                write(claim, fd, start, who + 1, end - start)
            elif op == "forget":
                ranges.forget(start, end)
                assert start >= end or ranges.gaps(start, end) == [(start, end)]
            elif op == "limit":
                claim.set_limit(start)
            elif op == "stop":
                claim.stop()
            elif op == "advance":
                claim.advance()
            if claim.stopped and op == "write":  # a stopped stream never gains bytes
                owned = {(a, b) for a, b, o in ranges.spans() if o == claim.owner}
                assert sum(b - a for a, b in owned) <= sum(b - a for a, b in owned_before)
        spans = ranges.spans()
        assert all(a < b for a, b, _ in spans)
        assert all(x[1] <= y[0] for x, y in itertools.pairwise(spans))
        assert all(not (x[1] == y[0] and x[2] == y[2]) for x, y in itertools.pairwise(spans))
        data = content(fd)
        for a, b, owner in spans:
            assert data[a:b] == bytes([fill[owner]]) * (b - a)
            claim = next(c for c in claims if c.owner == owner)
            assert claim.limit is None or b <= claim.limit
    finally:
        os.close(fd)


def test_over_real_sockets_the_first_stream_keeps_its_bytes_until_they_are_forgotten(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        peers = [PeerSpec("liar", misbehaviour=Misbehaviour(corrupt=(0, REAL_SIZE))),
                 PeerSpec("good-1"), PeerSpec("good-2")]
        async with Sandbox(tmp_path, [SandboxFile(TRACK, REAL_SIZE)], peers) as sb:
            bob = await sb.client("bob")
            truth, part = sb.content(TRACK), tmp_path / "f.part"
            ranges = WrittenRanges()
            half = REAL_SIZE // 2

            def fetch(peer: str, start: int, end: int) -> Any:
                return bob.download_range(peer, sb.remote_path(peer, TRACK), start, end, part,
                                          claim=ranges.stream(), start_timeout=10)

            lie = await fetch("liar", 0, half + MiB)
            overlap = await fetch("good-1", half, REAL_SIZE)
            assert lie.ok and overlap.ok
            # The second stream received (and hashed) its whole range but wrote only its gap.
            assert overlap.bytes_written == REAL_SIZE - half
            assert overlap.bytes_skipped == MiB
            assert overlap.sha256 == hashlib.sha256(truth[half:]).hexdigest()
            data = part.read_bytes()
            assert data[half:half + MiB] != truth[half:half + MiB]  # still the liar's
            assert data[half + MiB:] == truth[half + MiB:]

            ranges.forget(0, half + MiB)  # the liar is convicted: its bytes are refetched
            fix = await fetch("good-2", 0, half + MiB)
            assert fix.ok and fix.bytes_skipped == 0
            assert hashlib.sha256(part.read_bytes()).hexdigest() == sb.sha256(TRACK)

    run(scenario())

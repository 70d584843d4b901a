"""The ticket-collision fix: waiting file connections keyed by (username, ticket)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from pathlib import Path
from typing import Any

from slskdn.soulseek.ranges import RangeOutcome
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.tickets import FileConnectionWaiters, ticket_sequence
from tests.soulseek.conftest import MiB, run

FILE_A = "A/one.bin"
FILE_B = "B/two.bin"
SIZE = 2 * MiB


def test_waiters_for_the_same_ticket_from_two_peers_stay_apart() -> None:
    async def scenario() -> None:
        waiters: FileConnectionWaiters[str] = FileConnectionWaiters()
        alice, bob = waiters.expect("alice", 2), waiters.expect("bob", 2)
        assert waiters.resolve("bob", 2, "bob's connection")
        assert bob.result() == "bob's connection" and not alice.done()
        assert waiters.resolve("alice", 2, "alice's connection")
        assert alice.result() == "alice's connection"
        assert not waiters.resolve("alice", 2, "late duplicate")  # nobody waits any more
        older = waiters.expect("carol", 5)
        newer = waiters.expect("carol", 5)  # carol reused a pending ticket: the newer wins
        assert older.cancelled() and not newer.done()

    run(scenario())


def test_ticket_sequences_start_at_random_unless_pinned() -> None:
    assert list(itertools.islice(ticket_sequence(1), 3)) == [2, 3, 4]  # aioslsk's sequence
    assert list(itertools.islice(ticket_sequence(0xFFFFFFFE), 3)) == [0xFFFFFFFF, 1, 2]
    starts = {next(ticket_sequence()) for _ in range(20)}
    assert len(starts) == 20 and all(1 <= t <= 0xFFFFFFFF for t in starts)


class _TicketOnlyWaiters(FileConnectionWaiters[Any]):
    """aioslsk 1.7.1's behaviour, for the control experiment: the username is ignored."""

    def expect(self, username: str, ticket: int) -> asyncio.Future[Any]:
        return super().expect("", ticket)

    def resolve(self, username: str, ticket: int, connection: Any) -> bool:
        return super().resolve("", ticket, connection)

    def discard(self, username: str, ticket: int, future: asyncio.Future[Any]) -> None:
        super().discard("", ticket, future)


async def _two_uploaders_at_once(root: Path, keyed: bool) -> tuple[list[RangeOutcome],
                                                                     list[bool]]:
    # Both uploaders run aioslsk's fixed ticket sequence: both announce ticket 2 to bob.
    peers = [PeerSpec("u1", files=[FILE_A], ticket_start=1),
             PeerSpec("u2", files=[FILE_B], ticket_start=1)]
    files = [SandboxFile(FILE_A, SIZE), SandboxFile(FILE_B, SIZE)]
    async with Sandbox(root, files, peers) as sb:
        bob = await sb.client("bob")
        if not keyed:
            bob.transfers._waiters = _TicketOnlyWaiters()
        jobs = [("u1", FILE_A, root / "a.part"), ("u2", FILE_B, root / "b.part")]
        outcomes = await asyncio.gather(*(
            bob.download_range(peer, sb.remote_path(peer, path), 0, SIZE, part,
                               start_timeout=5)
            for peer, path, part in jobs))
        correct = [part.exists() and hashlib.sha256(part.read_bytes()).hexdigest()
                   == sb.sha256(path) for _, path, part in jobs]
        return list(outcomes), correct


def test_two_uploaders_with_the_same_ticket_serve_one_downloader_at_once(tmp_path: Path) -> None:
    outcomes, correct = run(_two_uploaders_at_once(tmp_path, keyed=True))
    assert all(o.ok for o in outcomes), [o.reason for o in outcomes]
    assert correct == [True, True]


def test_control_keyed_by_ticket_alone_the_same_scenario_breaks(tmp_path: Path) -> None:
    # Without the fix the second transfer's waiter replaces the first's (both wait for
    # ticket 2): one uploader's connection goes to the wrong transfer or is refused, and
    # one range never starts or receives the other file's bytes.
    outcomes, correct = run(_two_uploaders_at_once(tmp_path, keyed=False))
    assert not (all(o.ok for o in outcomes) and all(correct))

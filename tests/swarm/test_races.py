"""Who loses a race is cancelled; only a source raced for being underperforming is also kept
idle afterwards (a healthy, only slower one lost an end-game race and is as good as before)."""

from __future__ import annotations

import pytest

from slskdn.domain.swarm.decisions import SOULSEEK
from slskdn.domain.swarm.racing import Racing
from slskdn.domain.swarm.range_map import RangeMap
from slskdn.domain.swarm.session import SessionConfig
from slskdn.domain.swarm.tracking import SourceRuntime, SourceSpec, Transfer

KIB = 1024
SIZE = 4 * 1024 * KIB
NOW = 20.0


class Host(Racing):
    """The state ``Racing`` works on, without a network behind it."""

    def __init__(self) -> None:
        self.config = SessionConfig()
        self.range_map = RangeMap(SIZE)
        self.sources = {s: SourceRuntime(SourceSpec(s, SOULSEEK)) for s in ("slow", "fast")}
        self.transfers: dict[int, Transfer] = {}
        self.cancelled: list[tuple[str, str]] = []

    def add(self, t: Transfer) -> Transfer:
        self.transfers[t.request_id] = t
        self.sources[t.source_id].transfers[t.request_id] = t
        return t

    def _cancel(self, t: Transfer, now: float, reason: str) -> None:
        self.cancelled.append((t.source_id, reason))
        del self.transfers[t.request_id]
        del self.sources[t.source_id].transfers[t.request_id]

    def _transfer_ending(self, source_id: str, end: int) -> Transfer | None:
        return next((t for t in self.sources[source_id].transfers.values()
                     if t.duplicate_of is None and t.start < end <= t.end), None)


@pytest.mark.parametrize("healthy", [True, False])
def test_the_loser_of_a_race_is_backed_off_only_when_it_was_underperforming(
        healthy: bool) -> None:
    host = Host()
    host.range_map.assign(0, SIZE, "slow")
    host.range_map.mark_received(0, 3 * 1024 * KIB, "slow")
    host.add(Transfer(1, "slow", 0, SIZE, requested_at=1.0, position=3 * 1024 * KIB))
    racer = host.add(Transfer(2, "fast", 3 * 1024 * KIB, SIZE, requested_at=19.0,
                              position=3 * 1024 * KIB + 512 * KIB, duplicate_of="slow",
                              races_healthy=healthy))
    host._resolve_races(NOW)
    assert host.cancelled == [("slow", "lost the race to fast")]
    assert racer.duplicate_of is None  # the racer now owns the rest of the range
    backoff = host.sources["slow"].backoff_until
    assert backoff == (0.0 if healthy else NOW + host.config.failure_backoff_s)

"""Who loses a race is cancelled; only a source raced for being underperforming (or far
slower) is also kept idle afterwards (a healthy, only slower one lost an end-game race and is
as good as before), and not once nobody healthy is left. A raced range whose back was taken
meanwhile is still raced over what is left of it."""

from __future__ import annotations

import pytest

from slskdn.domain.swarm.decisions import OVERLAY, SOULSEEK, Cancel, Negotiate
from slskdn.domain.swarm.racing import Racing
from slskdn.domain.swarm.range_map import ByteState, RangeMap
from slskdn.domain.swarm.tracking import SourceRuntime, SourceSpec, Transfer
from slskdn.simulation.lower_bound import t_star
from slskdn.simulation.runner import run_scenario
from slskdn.simulation.scenario import MB, Scenario, SimSource

KIB = 1024
MIB = 1024 * KIB
SIZE = 4 * MIB
NOW = 20.0


class Ends:
    """Where the session moved transfer ends (the ``set_end`` half of a transport)."""

    def __init__(self) -> None:
        self.moved: dict[int, int] = {}

    def set_end(self, request_id: int, end: int) -> None:
        self.moved[request_id] = end


class Host(Racing):
    """The state ``Racing`` works on, without a network behind it."""

    def __init__(self) -> None:
        self.range_map = RangeMap(SIZE)
        self.sources = {s: SourceRuntime(SourceSpec(s, SOULSEEK)) for s in ("slow", "fast")}
        self.sources["overlay"] = SourceRuntime(SourceSpec("overlay", OVERLAY))
        self.transfers: dict[int, Transfer] = {}
        self.transport = Ends()
        self.cancelled: list[tuple[str, str]] = []
        self.backed_off: list[str] = []  # cancelled with a back-off (the logged Cancel says so)

    def add(self, t: Transfer) -> Transfer:
        self.transfers[t.request_id] = t
        self.sources[t.source_id].transfers[t.request_id] = t
        return t

    def _cancel(self, t: Transfer, now: float, reason: str, backoff: bool = False) -> None:
        self.cancelled.append((t.source_id, reason))
        if backoff:
            self.backed_off.append(t.source_id)
        if t.position < t.end:  # as the session's ``_drop``: undelivered bytes go back
            self.range_map.release(t.source_id, t.position, t.end)
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
    assert host.backed_off == ([] if healthy else ["slow"])


def raced_range_with_a_stolen_back(racer_at: int) -> tuple[Host, Transfer]:
    """``slow`` streams [0, 4 MiB) and is at 2 MiB; ``fast`` races it from 1 MiB and is at
    ``racer_at``; then an overlay peer takes the last MiB from the back of slow's range (slow's
    end moves to 3 MiB, the race's end stays at 4 MiB)."""
    host = Host()
    host.range_map.assign(0, SIZE, "slow")
    host.range_map.mark_received(0, 2 * MIB, "slow")
    slow = host.add(Transfer(1, "slow", 0, SIZE, requested_at=1.0, position=2 * MIB))
    racer = host.add(Transfer(2, "fast", MIB, SIZE, requested_at=19.0, position=racer_at,
                              duplicate_of="slow", races_healthy=True, races=1))
    host.range_map.steal("slow", SIZE, 3 * MIB, "overlay")
    slow.end = 3 * MIB
    host.add(Transfer(3, "overlay", 3 * MIB, SIZE, requested_at=19.5))
    return host, racer


def test_a_racer_behind_a_range_that_lost_its_back_keeps_racing() -> None:
    host, racer = raced_range_with_a_stolen_back(racer_at=MIB + 512 * KIB)
    host._resolve_races(NOW)
    assert host.cancelled == []
    assert racer.duplicate_of == "slow"  # not promoted: it is behind
    assert host.range_map.in_flight("slow") == [(2 * MIB, 3 * MIB)]
    assert host.range_map.in_flight("overlay") == [(3 * MIB, SIZE)]


def test_a_racer_ahead_of_a_range_that_lost_its_back_cancels_it_and_leaves_the_chunk() -> None:
    host, racer = raced_range_with_a_stolen_back(racer_at=2 * MIB + 256 * KIB)
    host.range_map.mark_received(2 * MIB, 2 * MIB + 256 * KIB, "fast")
    host._resolve_races(NOW)
    # The raced stream is closed (left running it owned nothing and nobody ever closed it) ...
    assert host.cancelled == [("slow", "lost the race to fast")]
    assert 1 not in host.transfers and racer.duplicate_of is None
    # ... the overlay chunk keeps its bytes, and the racer stops where they begin.
    assert host.range_map.in_flight("overlay") == [(3 * MIB, SIZE)]
    assert host.range_map.in_flight("fast") == [(2 * MIB + 256 * KIB, 3 * MIB)]
    assert racer.end == 3 * MIB and host.transport.moved == {2: 3 * MIB}
    assert host.range_map.segment_at(3 * MIB).state == ByteState.IN_FLIGHT


def test_a_backed_off_loser_is_asked_again_once_the_winner_stalls() -> None:
    # Seed 1000453 of the benchmark, reduced: the far slower peer loses the first race and is
    # backed off for 30 s; at 6 s the only other peer stalls. It took the file 32 s to ask the
    # slow peer again (T*/T 0.48); with nobody healthy left, the back-off yields.
    sc = Scenario("backoff-yields", 1, 16 * MB, (
        SimSource("fast", 2.4 * MB, negotiation=1.4, stall_at=6.0, advertised_speed=4.8 * MB),
        SimSource("slow", 0.18 * MB, negotiation=0.8, advertised_speed=0.06 * MB)),
        downlink=6.25 * MB)
    result = run_scenario(sc)
    lost = [t for t, d in result.decisions if isinstance(d, Cancel) and d.source_id == "slow"
            and d.backoff]
    asked_again = [t for t, d in result.decisions
                   if isinstance(d, Negotiate) and d.source_id == "slow" and t > 0]
    assert lost and lost[0] < 2.0  # the back-off this is about did happen
    assert asked_again and 6.0 < asked_again[0] < 8.0, result.decisions
    assert t_star(sc) / result.time > 0.75

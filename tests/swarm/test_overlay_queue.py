"""Overlay request queues: silence is measured from the source's last byte, a queue sized on a
rate the peer does not reach hands its back chunks to others, and in playback a queue never
holds later zones' chunks ahead of bytes next to the play head."""

from __future__ import annotations

from slskdn.domain.swarm.decisions import OVERLAY, Assign, Cancel
from slskdn.domain.swarm.range_map import RangeMap
from slskdn.domain.swarm.scheduler import plan
from slskdn.domain.swarm.snapshot import RequestView, SchedulerConfig, SourceView, SwarmSnapshot
from slskdn.domain.swarm.zones import ZoneConfig, bytes_for_seconds, plan_zones, whole_file

KIB = 1024
MIB = 1024 * 1024
CHUNK = 256 * KIB
NOW = 10.0


def queued_overlay(rm: RangeMap, starts: list[int], data_at: float | None,
                   first_started: bool = False, rate: float = 1_000_000) -> SourceView:
    """An overlay peer with chunks queued at t = 0.5; the head one started only if asked."""
    reqs = []
    for i, start in enumerate(starts):
        rm.assign(start, start + CHUNK, "o")
        first = NOW - 0.1 if i == 0 and first_started else None
        reqs.append(RequestView(start, start, start + CHUNK, progress_at=first or 0.5,
                                first_byte_at=first))
    return SourceView(source_id="o", kind=OVERLAY, state="streaming", rate=rate,
                      rate_measured=True, rate_live=True, requests=tuple(reqs),
                      first_byte_delay=0.05, fresh=False, data_at=data_at)


def cancels(rm: RangeMap, v: SourceView, zones: object = None) -> list[Cancel]:
    snap = SwarmSnapshot(rm.size, rm.segments(), (v,), zones or whole_file(rm.size),  # type: ignore[arg-type]
                         NOW)
    return [d for d in plan(snap, SchedulerConfig()) if isinstance(d, Cancel)]


def test_the_gap_between_two_chunks_is_not_silence() -> None:
    # The head chunk has just completed; the next one, queued seconds ago, has no byte yet.
    rm = RangeMap(20 * MIB)
    v = queued_overlay(rm, [8 * MIB, 9 * MIB, 10 * MIB], data_at=NOW - 0.05)
    assert cancels(rm, v) == []


def test_a_really_silent_overlay_peer_hands_its_queue_back() -> None:
    rm = RangeMap(20 * MIB)
    v = queued_overlay(rm, [8 * MIB, 9 * MIB, 10 * MIB], data_at=NOW - 5.0)
    dropped = cancels(rm, v)
    assert sorted(c.start for c in dropped) == [9 * MIB, 10 * MIB]
    assert all("stalled" in c.reason for c in dropped)


def test_a_queue_far_longer_than_the_measured_rate_serves_soon_hands_its_back_chunks_back(
        ) -> None:
    # Queued on a guess of 2 MB/s; measured at 0.2 MB/s, 16 chunks are 20 s of work.
    rm = RangeMap(20 * MIB)
    starts = [16 * MIB + i * CHUNK for i in range(16)]
    v = queued_overlay(rm, starts, data_at=NOW - 0.05, first_started=True, rate=200_000)
    dropped = cancels(rm, v)
    assert dropped and all("measured rate" in c.reason for c in dropped)
    kept = [s for s in starts if s not in {c.start for c in dropped}]
    assert kept == starts[:len(kept)], "the back of the queue goes, the head stays"
    # What is kept covers its queue time at the measured rate (3 s: 600 kB, three chunks).
    assert len(kept) * CHUNK >= 3 * 200_000 and len(kept) < 2 * 3


def test_a_queue_near_its_target_is_kept() -> None:
    # Twice the target is slack: trimming nearer to it would trim and refill in turn.
    rm = RangeMap(20 * MIB)
    starts = [16 * MIB + i * CHUNK for i in range(4)]
    v = queued_overlay(rm, starts, data_at=NOW - 0.05, first_started=True, rate=200_000)
    assert cancels(rm, v) == []


def test_playback_drops_queued_chunks_of_later_zones_for_the_play_head() -> None:
    rate = bytes_for_seconds(1, 1411)
    rm = RangeMap(300 * rate)
    zones = plan_zones(rm.size, 0, rate, 0, ZoneConfig(high_seconds=30))
    mid = 40 * rate  # in the mid zone
    v = queued_overlay(rm, [mid, mid + CHUNK, mid + 2 * CHUNK], data_at=NOW - 0.05,
                       first_started=True, rate=20 * rate)
    snap = SwarmSnapshot(rm.size, rm.segments(), (v,), zones, NOW)
    out = plan(snap, SchedulerConfig())
    dropped = sorted(d.start for d in out if isinstance(d, Cancel))
    assert dropped == [mid + CHUNK, mid + 2 * CHUNK]  # the started head chunk keeps going
    assigns = [d for d in out if isinstance(d, Assign)]
    assert assigns and assigns[0].start == 0
    # Its queue next to the play head holds about its fair share of the zone, not 3 s.
    assert sum(a.end - a.start for a in assigns) <= 30 * rate + CHUNK

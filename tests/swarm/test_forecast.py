"""The look ahead that judges candidate takes (``forecast``) and what it is asked to judge."""

from __future__ import annotations

from slskdn.domain.swarm.decisions import SOULSEEK, Release, Steal
from slskdn.domain.swarm.forecast import Helper, Lane, forecast
from slskdn.domain.swarm.range_map import RangeMap
from slskdn.domain.swarm.scheduler import plan
from slskdn.domain.swarm.snapshot import RequestView, SchedulerConfig, SourceView, SwarmSnapshot
from slskdn.domain.swarm.zones import whole_file

MB = 1_000_000
MIB = 1024 * 1024
NOW = 10.0


def test_an_overlay_queue_helps_once_at_its_one_rate_when_its_last_chunk_ends() -> None:
    # Four queued chunks of one overlay peer, served one after another until t = 4, and a
    # long Soulseek lane ending at 20.
    queue = [Lane("o", 1.0, c, c + 1, float(c), delay=0.0) for c in range(4)]
    long = Lane("s", 1.0, 10, 30, 0.0, delay=2.0)
    seen = forecast([*queue, long], [], 0.0, min_bytes=0.5, min_gain=0.01)
    # At 4 the peer is free and splits the 16 units "s" has left: both end at 12. Counting a
    # helper per finished chunk ran the peer in parallel with its own queue (end 10.5 or less).
    assert abs(seen.end - 12.0) < 1e-9


def test_a_helper_passes_over_a_lane_too_short_to_cut() -> None:
    # "b" ends last, but with 0.3 units left it cannot be cut: the helper splits "a" instead
    # of idling.
    lanes = [Lane("a", 1.0, 0, 20, 0.0, delay=1.0), Lane("b", 0.014, 0, 0.3, 0.0, delay=1.0)]
    alone = forecast(lanes, [], 0.0, min_bytes=0.5, min_gain=0.01)
    helped = forecast(lanes, [Helper(0.0, "c", 1.0, 0.0, 1.0)], 0.0, min_bytes=0.5,
                      min_gain=0.01)
    assert helped.end == alone.end  # "b" still ends last
    assert helped.mean < alone.mean - 4.0  # "a"'s 20 units arrive in half the time


def test_a_slow_binder_is_not_given_a_planned_cut_it_would_end_after_its_victim() -> None:
    # Every rate and arrival is measured, so the global cut of arrivals is a candidate. It
    # keeps for "f" what it fetches by the balanced finish of everyone, counting "h" arriving
    # in 0.5 s, and hands the slow binder "s" the rest: 1.4 MB at 0.1 MB/s, 14 s, where "f"
    # alone ends in 1.4 s. The look ahead says the download ends later than with "s" idle.
    rm = RangeMap(4 * MIB)
    rm.assign(0, 4 * MIB, "f")
    fast = SourceView("f", SOULSEEK, "streaming", 3 * MB, rate_measured=True, rate_live=True,
                      requests=(RequestView(0, 0, 4 * MIB, NOW, first_byte_at=NOW - 1.0),),
                      fresh=False, timing_known=True, start_delay=1.0)
    arriving = SourceView("h", SOULSEEK, "negotiating", 1 * MB, rate_measured=True,
                          timing_known=True, ready_at=NOW + 0.5, start_delay=1.0, fresh=False)
    slow = SourceView("s", SOULSEEK, "ready", 0.1 * MB, rate_measured=True, timing_known=True,
                      start_delay=1.0, fresh=False)
    out = plan(SwarmSnapshot(rm.size, rm.segments(), (fast, arriving, slow), whole_file(rm.size),
                             NOW), SchedulerConfig())
    assert not [d for d in out if isinstance(d, Steal) and d.thief_id == "s"], out
    assert any(isinstance(d, Release) and d.source_id == "s" for d in out), out

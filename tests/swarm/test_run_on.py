"""Streams that run on instead of stopping, judging takes by a look ahead, and the estimates
the scheduler plans with (learned advertised-speed discount, read-by-read rates)."""

from __future__ import annotations

from typing import Any

from slskdn.domain.swarm.cost import Candidate, CostParams, rank_peers
from slskdn.domain.swarm.decisions import SOULSEEK, Cancel, Extend
from slskdn.domain.swarm.forecast import Helper, Lane, forecast
from slskdn.domain.swarm.metrics import PeerMetrics
from slskdn.domain.swarm.range_map import RangeMap
from slskdn.domain.swarm.scheduler import plan
from slskdn.domain.swarm.snapshot import RequestView, SchedulerConfig, SourceView, SwarmSnapshot
from slskdn.domain.swarm.tracking import SourceRuntime, SourceSpec
from slskdn.domain.swarm.zones import whole_file

KIB = 1024
MIB = 1024 * 1024
NOW = 10.0


def streaming(sid: str, rm: RangeMap, start: int, position: int, end: int, rate: float,
              **kw: Any) -> SourceView:
    rm.assign(start, end, sid)
    if position > start:
        rm.mark_received(start, position, sid)
    req = RequestView(start, position, end, progress_at=NOW, first_byte_at=NOW - 1.0)
    kw.setdefault("start_delay", 1.0)
    return SourceView(sid, SOULSEEK, "streaming", rate, rate_measured=True, rate_live=True,
                      requests=(req,), fresh=False, **kw)


def decisions(rm: RangeMap, *sources: SourceView) -> list[Any]:
    return plan(SwarmSnapshot(rm.size, rm.segments(), sources, whole_file(rm.size), NOW),
                SchedulerConfig())


def test_a_stream_about_to_end_runs_on_over_the_pending_bytes_after_it() -> None:
    rm = RangeMap(20 * MIB)
    a = streaming("a", rm, 0, 9 * MIB, 10 * MIB, rate=2 * MIB)
    out = decisions(rm, a)
    assert Extend("a", 10 * MIB, 20 * MIB, "run on over 10.0 MiB of pending bytes") in out


def test_a_fast_stream_takes_over_a_slow_neighbour_instead_of_negotiating_again() -> None:
    rm = RangeMap(30 * MIB)
    fast = streaming("fast", rm, 0, 10 * MIB - 512 * KIB, 10 * MIB, rate=4 * MIB,
                     start_delay=1.5)
    # The neighbour started 0.2 s ago at 200 kB/s: 40 kB would be fetched again.
    slow = streaming("slow", rm, 10 * MIB, 10 * MIB + 40_000, 30 * MIB, rate=200_000,
                     start_delay=1.5)
    out = decisions(rm, fast, slow)
    extend = next(d for d in out if isinstance(d, Extend))
    assert (extend.source_id, extend.start, extend.end) == ("fast", 10 * MIB, 30 * MIB)
    cancel = next(d for d in out if isinstance(d, Cancel))
    assert cancel.source_id == "slow" and cancel.start == 10 * MIB + 40_000
    assert not cancel.backoff  # merely slower, not failing: it may take other work


def test_no_run_on_over_a_neighbour_about_as_fast() -> None:
    rm = RangeMap(30 * MIB)
    a = streaming("a", rm, 0, 10 * MIB - 512 * KIB, 10 * MIB, rate=2 * MIB)
    b = streaming("b", rm, 10 * MIB, 11 * MIB, 30 * MIB, rate=1.8 * MIB)
    assert not any(isinstance(d, Extend) for d in decisions(rm, a, b))


def test_no_run_on_while_the_end_is_still_far() -> None:
    rm = RangeMap(30 * MIB)
    a = streaming("a", rm, 0, 1 * MIB, 10 * MIB, rate=2 * MIB)
    slow = streaming("slow", rm, 10 * MIB, 10 * MIB + 40_000, 30 * MIB, rate=100_000)
    assert not any(isinstance(d, Extend) for d in decisions(rm, a, slow))


def test_the_forecast_charges_a_new_negotiation_to_a_source_that_runs_out_of_work() -> None:
    # Two lanes; the short one ends at 1 s and must negotiate 2 s before helping the other.
    lanes = [Lane("a", 1.0, 0, 1, 0.0, delay=2.0), Lane("b", 1.0, 1, 11, 0.0, delay=2.0)]
    seen = forecast(lanes, [], 0.0, min_bytes=0.5, min_gain=0.01)
    # At 3 s "a" takes half of the 7 bytes "b" has left: both end at 6.5 s.
    assert abs(seen.end - 6.5) < 1e-9
    # A helper ready at 0.5 s splits the long lane at once instead.
    helped = forecast(lanes, [Helper(0.5, "c", 1.0, 0.0, 1.0)], 0.0, min_bytes=0.5,
                      min_gain=0.01)
    assert helped.end < seen.end and helped.mean < seen.mean


def test_the_advertised_speed_discount_is_learned_from_the_measured_peers() -> None:
    metrics = {"a": PeerMetrics("a", throughput=2_000_000.0),
               "b": PeerMetrics("b", throughput=1_000_000.0)}
    cands = [Candidate("a", 1_000_000), Candidate("b", 500_000), Candidate("new", 300_000)]
    ranked = {r.peer_id: r for r in rank_peers(cands, metrics, {}, CostParams())}
    assert ranked["new"].throughput == 600_000  # advertised × 2, as the others measured
    alone = {r.peer_id: r for r in rank_peers(cands[2:], {}, {}, CostParams())}
    assert alone["new"].throughput == 300_000 * CostParams().advertised_discount


def test_a_plan_between_two_reads_does_not_make_a_steady_rate_look_slower() -> None:
    src = SourceRuntime(SourceSpec("a", SOULSEEK))
    src.stream_started(0.0)
    for i in range(1, 7):
        src.record_bytes(64 * KIB, i * 0.1)  # 640 KiB/s
    assert abs((src.recent_rate(0.65) or 0) - 64 * KIB / 0.1) < 1.0
    assert (src.recent_rate(1.5) or 0) < 64 * KIB / 0.1 / 2  # silence is evidence

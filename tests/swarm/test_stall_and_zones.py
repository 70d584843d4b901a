"""Stall verdicts and playback zones."""

from __future__ import annotations

import pytest

from slskdn.domain.swarm.stall import ProgressSample, StallConfig, TransferWatch, assess
from slskdn.domain.swarm.zones import Zone, ZoneConfig, bytes_for_seconds, plan_zones, whole_file

CFG = StallConfig(max_queue_minutes=2.0, min_speed_kbps=64.0, window_seconds=5.0,
                  relative_floor=0.05)


def steady(rate: float, until: float, since: float = 0.0) -> list[ProgressSample]:
    return [ProgressSample(t, int(rate * (t - since))) for t in
            [since + 0.5 * i for i in range(1, int((until - since) / 0.5) + 1)]]


def test_a_healthy_transfer_gets_no_verdict() -> None:
    watch = TransferWatch("p", 0.0, 0.0, steady(100_000, 20.0))
    assert assess(watch, 20.0, CFG) is None


def test_waiting_in_the_queue_too_long_is_underperforming() -> None:
    watch = TransferWatch("p", requested_at=0.0, streaming_since=None)
    assert assess(watch, 119.0, CFG) is None
    verdict = assess(watch, 121.0, CFG)
    assert verdict is not None and verdict.kind == "queued too long"
    assert "queued 2.0 min" in verdict.reason


def test_too_slow_over_the_whole_window_is_underperforming() -> None:
    watch = TransferWatch("p", 0.0, 0.0, steady(5_000, 20.0))  # 40 kbps
    verdict = assess(watch, 20.0, CFG)
    assert verdict is not None and verdict.kind == "too slow"
    assert "64 kbps" in verdict.reason and verdict.speed_kbps == pytest.approx(40.0, rel=0.1)


def test_a_fast_transfer_that_drops_to_a_crawl_is_stalled() -> None:
    samples = steady(1_000_000, 10.0)
    crawl_start = samples[-1].received
    samples += [ProgressSample(10.0 + 0.5 * i, crawl_start + 20_000 * i) for i in range(1, 11)]
    verdict = assess(TransferWatch("p", 0.0, 0.0, samples), 15.0, CFG)
    assert verdict is not None and verdict.kind == "stalled"
    assert "% of its earlier speed" in verdict.reason


def test_a_transfer_is_not_judged_before_a_full_window() -> None:
    watch = TransferWatch("p", 0.0, 3.0, [])
    assert assess(watch, 7.0, CFG) is None  # only 4 s of streaming


CD = bytes_for_seconds(1.0, 1411)  # bytes per second of CD audio


def test_zones_follow_the_play_head() -> None:
    cfg = ZoneConfig(high_seconds=10, mid_seconds=30, critical_buffer_seconds=4)
    plan = plan_zones(100 * CD, play_position=20 * CD, byte_rate=CD, buffered_until=30 * CD,
                      config=cfg)
    spans = {(s.zone, s.start, s.end) for s in plan.spans}
    assert (Zone.HIGH, 20 * CD, 30 * CD) in spans
    assert (Zone.MID, 30 * CD, 50 * CD) in spans
    assert (Zone.LOW, 50 * CD, 100 * CD) in spans and (Zone.LOW, 0, 20 * CD) in spans
    assert plan.zone_of(25 * CD) == Zone.HIGH and plan.zone_of(5 * CD) == Zone.LOW
    assert plan.buffer_seconds == pytest.approx(10.0)
    assert not plan.critical
    assert plan.chunk_size(Zone.HIGH) < plan.chunk_size(Zone.LOW)


def test_a_short_buffer_is_critical_and_relaxes_fairness_only_when_asked() -> None:
    strict = plan_zones(100 * CD, 0, CD, 2 * CD, ZoneConfig(critical_buffer_seconds=5))
    assert strict.critical and not strict.relax_fairness
    relaxed = plan_zones(100 * CD, 0, CD, 2 * CD,
                         ZoneConfig(critical_buffer_seconds=5, relax_fairness_when_critical=True))
    assert relaxed.critical and relaxed.relax_fairness
    done = plan_zones(100 * CD, 0, CD, 100 * CD, ZoneConfig(critical_buffer_seconds=5))
    assert not done.critical  # nothing left to wait for


def test_only_fast_reliable_sources_may_take_the_high_zone() -> None:
    plan = plan_zones(100 * CD, 0, CD, 0, ZoneConfig(high_min_rate_factor=1.0))
    assert plan.eligible(Zone.HIGH, 2 * CD, reliable=True)
    assert not plan.eligible(Zone.HIGH, 0.5 * CD, reliable=True)
    assert not plan.eligible(Zone.HIGH, 10 * CD, reliable=False)
    assert not plan.eligible(Zone.HIGH, 1.5 * CD, reliable=True, measured=False)  # a guess
    assert plan.eligible(Zone.LOW, 0.1 * CD, reliable=False)


def test_without_playback_the_whole_file_is_one_low_zone() -> None:
    plan = whole_file(1000)
    assert [(s.zone, s.start, s.end) for s in plan.spans] == [(Zone.LOW, 0, 1000)]
    assert not plan.critical and plan.buffer_seconds is None

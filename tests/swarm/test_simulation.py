"""The simulator, the lower bound T*, the baselines, and whole downloads end to end."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slskdn.domain.swarm.decisions import (
    OVERLAY,
    SOULSEEK,
    Cancel,
    Duplicate,
    Extend,
    Rebalance,
)
from slskdn.domain.swarm.session import SessionConfig
from slskdn.domain.swarm.snapshot import SchedulerConfig
from slskdn.simulation.baselines import sequential_failover, single_best
from slskdn.simulation.clock import EventLoop
from slskdn.simulation.content import MemoryPartFile, ServedCopy, make_content
from slskdn.simulation.lower_bound import SourceCurve, curve_of, fluid_lower_bound, t_star
from slskdn.simulation.runner import run_scenario
from slskdn.simulation.scenario import (
    KIB,
    MB,
    Scenario,
    SimSource,
    issue7_scenario,
    random_scenario,
)

# --- building blocks -------------------------------------------------------------------------


def test_the_event_loop_runs_in_time_order_and_skips_cancelled_timers() -> None:
    loop = EventLoop()
    seen: list[str] = []
    loop.call_at(2.0, lambda: seen.append("b"))
    loop.call_at(1.0, lambda: seen.append("a"))
    loop.call_at(1.5, lambda: seen.append("x")).cancel()
    loop.call_at(2.0, lambda: seen.append("c"))  # same time: scheduling order
    assert loop.run(lambda: False, time_limit=10.0) is False
    assert seen == ["a", "b", "c"] and loop.now == 2.0


def test_the_part_file_keeps_the_first_write_until_discarded() -> None:
    part = MemoryPartFile(10)
    assert part.write(0, b"aaaa") == 4
    assert part.write(2, b"bbbbbb") == 4  # bytes 2 and 3 were already there
    assert bytes(part.data[:8]) == b"aaaabbbb"
    part.discard(0, 2)
    assert part.write(0, b"cccc") == 2
    assert bytes(part.data[:4]) == b"ccaa"


def test_a_corrupt_copy_differs_only_in_its_bad_blocks() -> None:
    content = make_content(4 * 1024, seed=1)
    copy = ServedCopy(content, 1024, corrupt_blocks={2})
    assert bytes(copy.read(0, 2048)) == content[:2048]
    assert bytes(copy.read(2048, 3072)) != content[2048:3072]
    assert make_content(4 * 1024, seed=1) == content  # deterministic


# --- the lower bound and the baselines -------------------------------------------------------


def test_t_star_with_one_source_is_its_start_plus_size_over_rate() -> None:
    assert fluid_lower_bound(1000, [SourceCurve(2.0, math.inf, [(0.0, 100.0)])], 1e9) == 12.0


def test_t_star_adds_sources_as_they_arrive_and_respects_the_downlink() -> None:
    curves = [SourceCurve(0.0, math.inf, [(0.0, 100.0)]), SourceCurve(5.0, math.inf,
                                                                       [(0.0, 100.0)])]
    # 500 bytes by t=5 from the first, then 200/s: 500 more take 2.5 s.
    assert fluid_lower_bound(1000, curves, 1e9) == pytest.approx(7.5)
    assert fluid_lower_bound(1000, curves, 150.0) == pytest.approx(5.0 + 500 / 150)


def test_t_star_stops_counting_a_source_when_it_fails_or_stalls() -> None:
    fails = SourceCurve(0.0, 2.0, [(0.0, 100.0)])
    assert fluid_lower_bound(300, [fails], 1e9) == math.inf
    stalls = SimSource("s", rate=100.0, negotiation=0.0, latency=0.0, stall_at=2.0,
                       stall_rate=0.0)
    other = SimSource("o", rate=50.0, negotiation=0.0, latency=0.0)
    sc = Scenario("x", 1, 400, (stalls, other), downlink=1e9)
    # 300 bytes by t=2, then 50/s: 100 more take 2 s.
    assert t_star(sc) == pytest.approx(4.0)


def test_t_star_gives_a_corrupt_source_only_its_good_bytes_but_at_its_full_rate() -> None:
    honest = SimSource("h", rate=100.0, negotiation=0.0, latency=0.0)
    late_liar = SimSource("l", rate=300.0, negotiation=0.0, latency=0.0,
                          corrupt_blocks=frozenset({3}))
    # Four 1000-byte blocks. Its three good ones come at 300/s, so 4000 bytes need 10 s, as
    # if it were honest: the oracle never asks it for the last block.
    assert t_star(Scenario("x", 1, 4000, (honest, late_liar)), block_size=1000) == \
        pytest.approx(10.0)
    early_liar = replace(late_liar, corrupt_blocks=frozenset({0, 1}))
    # Only 2000 good bytes: the honest source must send the other 2000 at 100/s.
    assert t_star(Scenario("x", 1, 4000, (honest, early_liar)), block_size=1000) == \
        pytest.approx(20.0)


@pytest.mark.parametrize("first_bad", [10, 60, 100, 140])
def test_no_download_beats_t_star_with_a_liar_whose_copy_differs_from_some_block_on(
        first_bad: int) -> None:
    # The old bound (a liar at its good share of its rate all along) was beaten by a download
    # whose liar served its good blocks first.
    blocks = 10 * MB // (64 * KIB) + 1
    liar = SimSource("liar", 2 * MB, negotiation=0.3, advertised_speed=2 * MB,
                     corrupt_blocks=frozenset(range(first_bad, blocks)))
    sc = Scenario("liar", 4, 10 * MB, (SimSource("a", 0.5 * MB, negotiation=0.3), liar),
                  downlink=50 * MB)
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert result.time >= t_star(sc) - 1e-9


def test_sequential_failover_resumes_at_the_same_offset_after_a_failure() -> None:
    first = SimSource("a", rate=100.0, negotiation=1.0, latency=0.0, fail_at=6.0,
                      advertised_speed=200.0)
    second = SimSource("b", rate=100.0, negotiation=1.0, latency=0.0, advertised_speed=100.0)
    sc = Scenario("x", 1, 1000, (first, second), downlink=1e9)
    # a: bytes from t=1 to 6 → 500; b asked at 6, first byte at 7, 500 more → t=12.
    assert sequential_failover(sc) == pytest.approx(12.0)
    assert single_best(sc) == pytest.approx(11.0)  # b alone: 1 + 10 s


def test_sequential_failover_notices_a_stall_only_after_its_timeout() -> None:
    stalls = SimSource("a", rate=100.0, negotiation=0.0, latency=0.0, stall_at=2.0,
                       stall_rate=0.0, advertised_speed=200.0)
    backup = SimSource("b", rate=100.0, negotiation=0.0, latency=0.0, advertised_speed=100.0)
    sc = Scenario("x", 1, 1000, (stalls, backup), downlink=1e9)
    assert sequential_failover(sc, stall_timeout=5.0) == pytest.approx(7.0 + 8.0)


# --- end to end: the session driving the simulated transport --------------------------------


def small(sources: tuple[SimSource, ...], size: int = 3 * MB, seed: int = 7,
          downlink: float = 50 * MB) -> Scenario:
    return Scenario("t", seed, size, sources, downlink)


def test_two_sources_share_a_file_and_beat_either_alone() -> None:
    sc = small((SimSource("a", 1 * MB), SimSource("b", 1 * MB)))
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert result.time < single_best(sc) * 0.7
    assert result.time >= t_star(sc) - 1e-9


def test_a_failing_source_loses_its_range_and_the_file_still_completes() -> None:
    sc = small((SimSource("a", 1 * MB), SimSource("b", 1 * MB, fail_at=1.5)))
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert result.outcome is not None and result.outcome.failure is None


def test_a_stalled_source_is_raced_or_taken_over_and_cancelled() -> None:
    sc = small((SimSource("a", 1 * MB), SimSource("b", 1 * MB, stall_at=1.3)), size=4 * MB)
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    raced = [d for _, d in result.decisions if isinstance(d, Duplicate) and d.of_source_id == "b"]
    # ... or the source streaming just before its range runs on over it (no negotiation)
    run_on = [d for _, d in result.decisions if isinstance(d, Extend) and d.source_id == "a"]
    lost = [d for _, d in result.decisions if isinstance(d, Cancel) and d.source_id == "b"]
    assert (raced or run_on) and lost
    # Far below its usual rate: it is not asked again at once (no ping-pong of ranges).
    assert all(d.backoff for d in lost if d.reason.startswith("taken over"))
    assert result.time < 6.0  # far sooner than waiting for the stalled source


def test_a_corrupt_source_is_convicted_and_its_bytes_fetched_again() -> None:
    blocks = frozenset(range(0, 50, 3))
    sc = small((SimSource("honest", 1 * MB), SimSource("liar", 2 * MB, corrupt_blocks=blocks)))
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert result.convicted == {"liar"}
    assert any(isinstance(d, Rebalance) and "liar convicted" in d.reason
               for _, d in result.decisions)


class _GlitchOnce(MemoryPartFile):
    """A part file whose first write over one offset lands damaged: bytes on disk that are not
    what the stream sent (a data-path race, a disk error). Written again, they are right."""

    GLITCH_AT = 1 * MB + 100

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.glitched = False

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> int:
        if not self.glitched and offset <= self.GLITCH_AT < offset + len(data):
            self.glitched = True
            data = bytearray(data)
            data[self.GLITCH_AT - offset] ^= 0xFF
        return super().write(offset, data)


def test_a_source_whose_sent_bytes_match_the_verified_file_is_not_blamed_for_a_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The whole-file check fails for a reason no source caused; re-fetching a suspect's bytes
    # fixes it. The digests of what the suspect sent match the verified file: no conviction.
    monkeypatch.setattr("slskdn.simulation.runner.MemoryPartFile", _GlitchOnce)
    result = run_scenario(small((SimSource("a", 1 * MB), SimSource("b", 1 * MB))))
    assert result.finished and result.sha256_ok
    assert result.convicted == frozenset()
    assert any(isinstance(d, Rebalance) and "not blamed" in d.reason
               for _, d in result.decisions)


def test_overlay_and_soulseek_sources_work_together() -> None:
    sc = small((SimSource("s", 1 * MB), SimSource("o", 2 * MB, kind=OVERLAY, negotiation=0.1)),
               size=6 * MB)
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert result.time < 6 * MB / (2 * MB)  # faster than the overlay peer alone


def test_playback_mode_puts_a_fast_source_on_the_start_of_the_file() -> None:
    # The slow peer answers first; without playback it gets the front of the file.
    slow = SimSource("slow", 150_000, negotiation=0.1, advertised_speed=150_000)
    fast = SimSource("fast", 3 * MB, negotiation=0.6, advertised_speed=3 * MB)
    sc = small((slow, fast), size=20 * MB)
    prefix = 2 * MB
    play = run_scenario(sc, SessionConfig(playback_bitrate_kbps=1411), prefix_bytes=prefix)
    bulk = run_scenario(sc, prefix_bytes=prefix)
    assert play.prefix_time is not None and bulk.prefix_time is not None
    assert play.prefix_time < bulk.prefix_time / 2
    assert play.prefix_time < 1.5 * t_star(sc, prefix)


def test_the_same_seed_gives_the_same_download() -> None:
    sc = random_scenario(11, file_size=3 * MB)
    a, b = run_scenario(sc), run_scenario(sc)
    assert a.time == b.time and a.decisions == b.decisions


def test_no_download_beats_the_lower_bound() -> None:
    for seed in range(6):
        sc = random_scenario(seed, file_size=4 * MB, faults=False)
        result = run_scenario(sc)
        assert result.sha256_ok
        assert result.time >= t_star(sc) - 1e-6


# --- properties ------------------------------------------------------------------------------


@st.composite
def honest_swarm(draw: st.DrawFn, corrupt: bool = False) -> Scenario:
    """1–5 sources with random rates, delays and faults; source 0 is honest and never fails.
    With ``corrupt`` one other source serves wrong bytes in some blocks."""
    size = draw(st.integers(256 * KIB, 3 * MB))
    n = draw(st.integers(2 if corrupt else 1, 5))
    rng = random.Random(draw(st.integers(0, 2**32)))
    sources = []
    for i in range(n):
        kind = OVERLAY if i > 0 and rng.random() < 0.2 else SOULSEEK
        src = SimSource(f"p{i}", rate=rng.uniform(100_000, 2_000_000), kind=kind,
                        latency=rng.uniform(0.01, 0.1), negotiation=rng.uniform(0.1, 1.0),
                        queue_delay=rng.choice([0.0, 0.0, rng.uniform(0.0, 3.0)]),
                        advertised_speed=rng.uniform(50_000, 3_000_000))
        if i > 0:
            fault = rng.choice(["none", "fail", "stall", "slowdown"])
            if fault == "fail":
                src = SimSource(**{**src.__dict__, "fail_at": rng.uniform(0.2, 3.0)})
            elif fault == "stall":
                src = SimSource(**{**src.__dict__, "stall_at": rng.uniform(0.2, 3.0)})
            elif fault == "slowdown":
                src = SimSource(**{**src.__dict__, "rate_changes": (
                    (rng.uniform(0.2, 2.0), src.rate * 0.2),)})
        sources.append(src)
    if corrupt:
        blocks = -(-size // (64 * KIB))
        bad = frozenset(rng.sample(range(blocks), max(1, blocks // 3)))
        liar = sources[-1]
        # The liar is alive and reasonably fast, so it serves some of its bad blocks.
        sources[-1] = SimSource(liar.source_id, rate=max(liar.rate, 500_000), kind=SOULSEEK,
                                latency=liar.latency, negotiation=liar.negotiation,
                                corrupt_blocks=bad)
    return Scenario("h", draw(st.integers(0, 10_000)), size, tuple(sources),
                    downlink=draw(st.sampled_from([2 * MB, 10 * MB, 100 * MB])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(honest_swarm(), st.sampled_from(["conservative", "balanced", "aggressive"]))
def test_a_download_with_one_honest_live_source_always_completes_correctly(
        sc: Scenario, mode: str) -> None:
    config = SessionConfig(scheduler=SchedulerConfig(mode=mode))  # type: ignore[arg-type]
    result = run_scenario(sc, config, time_limit=600.0)
    assert result.finished, result.outcome
    assert result.sha256_ok
    assert result.time >= t_star(sc) - 1e-6
    # Every byte the network delivered is reported once (the events add up).
    assert result.reported_bytes == result.delivered_bytes - result.overshoot_bytes
    assert not (result.convicted - result.corrupt_sources), "an honest source was convicted"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(honest_swarm(corrupt=True))
def test_a_corrupt_source_that_served_bad_bytes_is_always_detected(sc: Scenario) -> None:
    result = run_scenario(sc, time_limit=600.0)
    assert result.finished and result.sha256_ok
    assert result.corrupt_served <= result.convicted
    assert not (result.convicted - result.corrupt_sources)


# --- named scenarios and the breakdown -------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_simulated_issue7_benchmark_gets_close_to_its_bound(seed: int) -> None:
    sc = issue7_scenario(seed)
    killed = [s for s in sc.sources if s.fail_at is not None]
    assert [s.rate for s in killed] == [4 * 1024 * 1024]
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert t_star(sc) / result.time >= 0.8


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_issue7_with_known_arrivals_planned_stays_close_to_its_bound(seed: int) -> None:
    # The global plan of measured arrivals is one candidate judged by the look ahead: taken
    # as given, it put slow peers on the last bytes (seed 2: 0.79).
    sc = issue7_scenario(seed)
    config = SessionConfig(scheduler=SchedulerConfig(plan_known_arrivals=True))
    result = run_scenario(sc, config)
    assert result.finished and result.sha256_ok
    assert t_star(sc) / result.time >= 0.8


def test_the_spread_family_draws_rates_from_its_own_range() -> None:
    sc = random_scenario(3, sources=8, faults=False, overlay=False, rates=(0.5 * MB, 2 * MB))
    assert len(sc.sources) == 8
    assert all(0.5 * MB <= s.rate <= 2 * MB for s in sc.sources)


def test_the_breakdown_accounts_for_all_the_unused_capacity() -> None:
    sc = random_scenario(21, file_size=8 * MB)
    result = run_scenario(sc, breakdown=True)
    lost = result.breakdown
    assert lost is not None and result.finished
    # C(T) − S: capacity the sources had until the end, beyond what the file needed.
    curves = [curve_of(s) for s in sc.sources]
    steps = 4000
    dt = result.time / steps
    capacity = 0.0
    for i in range(steps):
        t = (i + 0.5) * dt
        capacity += min(sc.downlink, sum(c.rate_at(t) for c in curves)) * dt
    assert abs(lost.total - (capacity - sc.file_size) / sc.file_size) < 0.02

"""Metrics, cost ranking and reputation: how peers are judged from what they did."""

from __future__ import annotations

import pytest

from slskdn.domain.swarm.cost import Candidate, CostParams, peer_cost, rank_peers
from slskdn.domain.swarm.decisions import (
    CancelledByPeer,
    CorruptRangeFound,
    NegotiationTimed,
    RangeCompleted,
    RangeServed,
    RttSampled,
    TransferErrored,
    TransferTimedOut,
)
from slskdn.domain.swarm.metrics import MetricsBook, MetricsConfig, PeerMetrics, observe
from slskdn.domain.swarm.reputation import (
    Outcome,
    Reputation,
    ReputationBook,
    ReputationConfig,
    record,
)

MIB = 1024 * 1024


# --- metrics ---------------------------------------------------------------------------------


def test_throughput_is_an_ema_with_the_configured_alpha() -> None:
    cfg = MetricsConfig(throughput_alpha=0.1)
    m = observe(PeerMetrics("p"), RangeServed("p", 0, 1_000_000, 1.0, at=1.0), cfg)
    assert m.throughput == pytest.approx(1_000_000)  # the first sample sets it
    m = observe(m, RangeServed("p", 0, 2_000_000, 1.0, at=2.0), cfg)
    assert m.throughput == pytest.approx(0.9 * 1_000_000 + 0.1 * 2_000_000)
    assert m.bytes_served == 3_000_000


def test_tiny_samples_do_not_move_the_throughput() -> None:
    cfg = MetricsConfig(min_sample_seconds=0.05)
    m = observe(PeerMetrics("p", throughput=500.0), RangeServed("p", 0, 10_000, 0.001, 1.0), cfg)
    assert m.throughput == 500.0 and m.bytes_served == 10_000


def test_rtt_and_negotiation_times_are_averaged() -> None:
    book = MetricsBook()
    book.observe(RttSampled("p", 0.2, at=1.0))
    book.observe(NegotiationTimed("p", 1.0, at=1.0))
    m = book.observe(RttSampled("p", 0.4, at=2.0))
    assert m.rtt == pytest.approx(0.2 * 0.8 + 0.4 * 0.2)
    assert m.negotiation == pytest.approx(1.0)


def test_error_and_timeout_rates_come_from_decayed_counts() -> None:
    cfg = MetricsConfig(count_half_life_s=100.0)
    book = MetricsBook(cfg)
    for _ in range(3):
        book.observe(RangeCompleted("p", 0, 10, at=0.0))
    book.observe(TransferErrored("p", "reset", at=0.0))
    m = book.observe(TransferTimedOut("p", at=0.0))
    assert m.error_rate == pytest.approx(1 / 5) and m.timeout_rate == pytest.approx(1 / 5)
    later = m.decayed(100.0, cfg)
    assert later.errors == pytest.approx(0.5) and later.successes == pytest.approx(1.5)
    # Decay shrinks all counts alike: the rates stay, the evidence weighs less.
    assert later.error_rate == pytest.approx(m.error_rate)


def test_cancellations_and_corrupt_ranges_count_as_errors() -> None:
    book = MetricsBook()
    book.observe(RangeCompleted("p", 0, 10, at=0.0))
    book.observe(CancelledByPeer("p", at=0.0))
    m = book.observe(CorruptRangeFound("p", 0, 10, at=0.0))
    assert m.error_rate == pytest.approx(2 / 3)


# --- cost ------------------------------------------------------------------------------------


def known(peer: str, throughput: float, errors: float = 0.0, timeouts: float = 0.0,
          successes: float = 10.0) -> PeerMetrics:
    return PeerMetrics(peer, throughput=throughput, successes=successes, errors=errors,
                       timeouts=timeouts)


def test_cost_formula_adds_time_per_mib_and_penalties() -> None:
    p = CostParams(alpha=MIB, beta=2.0, gamma=3.0, weight=1.0)
    assert peer_cost(MIB, 0.0, 0.0, 1.0, p) == pytest.approx(1.0)
    assert peer_cost(MIB / 2, 0.1, 0.2, 0.5, p) == pytest.approx(2.0 + 0.2 + 0.6 + 0.5)


def test_fast_reliable_peers_rank_before_slow_and_flaky_ones() -> None:
    metrics = {
        "fast": known("fast", 4 * MIB),
        "slow": known("slow", 100 * 1024),
        "flaky": known("flaky", 4 * MIB, errors=5.0, timeouts=5.0),
    }
    ranked = rank_peers([Candidate("slow"), Candidate("flaky"), Candidate("fast")], metrics,
                        {"fast": 0.9, "slow": 0.9, "flaky": 0.5}, CostParams())
    assert ranked[0].peer_id == "fast"
    costs = {r.peer_id: r.cost for r in ranked}
    assert costs["flaky"] > costs["fast"]
    assert costs["slow"] > costs["fast"]


def test_an_unknown_peer_lands_in_the_middle_of_the_ranking() -> None:
    metrics = {"fast": known("fast", 4 * MIB), "mid": known("mid", 1 * MIB),
               "slow": known("slow", 100 * 1024)}
    reps = {"fast": 0.5, "mid": 0.5, "slow": 0.5}
    ranked = rank_peers([Candidate(p) for p in ("fast", "mid", "slow", "new")], metrics, reps,
                        CostParams())
    order = [r.peer_id for r in ranked]
    assert order.index("fast") < order.index("new") < order.index("slow")  # neither starves
    new = next(r for r in ranked if r.peer_id == "new")
    assert new.cold_start and new.throughput == pytest.approx(1 * MIB)  # median of the known


def test_cold_start_uses_the_advertised_speed_discounted_or_the_default() -> None:
    params = CostParams(advertised_discount=0.5, cold_start_throughput=123.0)
    ranked = {r.peer_id: r for r in rank_peers(
        [Candidate("adv", advertised_speed=1000.0), Candidate("blank")], {}, {}, params)}
    assert ranked["adv"].throughput == pytest.approx(500.0)
    assert ranked["blank"].throughput == pytest.approx(123.0)


def test_quarantined_peers_come_last_even_when_fast() -> None:
    metrics = {"liar": known("liar", 10 * MIB), "honest": known("honest", 200 * 1024)}
    ranked = rank_peers([Candidate("liar"), Candidate("honest")], metrics,
                        {"liar": 0.05, "honest": 0.6}, CostParams(quarantine_below=0.2))
    assert [r.peer_id for r in ranked] == ["honest", "liar"]
    assert ranked[1].quarantined


# --- reputation ------------------------------------------------------------------------------


def test_a_stranger_starts_neutral_and_successes_raise_the_score() -> None:
    cfg = ReputationConfig()
    book = ReputationBook(cfg)
    assert book.score("p", 0.0) == pytest.approx(0.5)
    for i in range(8):
        book.record("p", Outcome.SUCCESS, float(i))
    assert 0.85 < book.score("p", 10.0) < 1.0


def test_corrupt_data_sinks_a_peer_into_quarantine_with_a_reason() -> None:
    cfg = ReputationConfig()
    rep = Reputation("p", successes=10.0)
    rep = record(rep, Outcome.CORRUPT, 0.0, cfg)
    assert rep.score(cfg) < cfg.quarantine_below
    assert rep.quarantined(cfg)
    assert rep.reason(cfg) == "sent corrupt data"


def test_timeouts_give_a_readable_reason_and_decay_with_the_half_life() -> None:
    cfg = ReputationConfig(half_life_s=60.0)
    book = ReputationBook(cfg)
    for _ in range(6):
        book.record("p", Outcome.TIMEOUT, 0.0)
    now = book.get("p", 0.0)
    assert now.reason(cfg) == "high timeouts"
    assert now.score(cfg) < 0.2
    much_later = book.get("p", 600.0)  # ten half-lives
    assert much_later.score(cfg) > 0.45


@pytest.mark.parametrize("outcome", list(Outcome))
def test_reputation_stays_between_zero_and_one(outcome: Outcome) -> None:
    cfg = ReputationConfig()
    book = ReputationBook(cfg)
    for i in range(200):
        book.record("p", outcome, float(i))
        assert 0.0 < book.score("p", float(i)) < 1.0

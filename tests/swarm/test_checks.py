"""Integrity checks at the end of a download: a third opinion on its way is awaited, and a
check queued behind an overlay peer's other chunks is waiting its turn, not stalled.

Both run seeded mixed scenarios of the benchmark in which the fault showed (a whole group
of suspects re-fetched for nothing; the only healthy peer backed off for 30 s)."""

from __future__ import annotations

from slskdn.domain.swarm.decisions import Cancel, Rebalance
from slskdn.simulation.runner import run_scenario
from slskdn.simulation.scenario import random_scenario


def test_a_pending_third_opinion_is_awaited_instead_of_re_fetching_suspects() -> None:
    sc = random_scenario(1_000_142)  # 4 peers; the culprit's bad blocks start mid-file
    liar = next(s.source_id for s in sc.sources if s.corrupt)
    result = run_scenario(sc)
    assert result.sha256_ok and liar in result.convicted
    group_tests = [d for _, d in result.decisions if isinstance(d, Rebalance)
                   and d.reason.startswith("whole-file check failed: fetching")]
    assert group_tests == []  # the dispute a spot check raised settled it


def test_an_overlay_check_queued_behind_its_own_chunks_is_not_given_up() -> None:
    sc = random_scenario(1_000_090)  # the overlay peer is the only healthy one near the end
    overlay = next(s.source_id for s in sc.sources if s.kind == "overlay")
    result = run_scenario(sc)
    assert result.sha256_ok
    given_up = [d for _, d in result.decisions if isinstance(d, Cancel)
                and d.source_id == overlay and d.reason.startswith("check too slow")]
    assert given_up == []
    assert result.time < 20.0  # a 30 s back-off of the overlay peer made it 44 s

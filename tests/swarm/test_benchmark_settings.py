"""``benchmarks.swarm``: ``--set NAME=VALUE`` (scheduler fields by name, typed by their
defaults), the bootstrap interval beside its figures, and ``--what-if`` scenarios."""

from __future__ import annotations

import random

import pytest

from benchmarks.swarm import bootstrap_interval, quantile, scheduler_overrides, session_config
from slskdn.domain.swarm.decisions import OVERLAY
from slskdn.simulation.lower_bound import t_star
from slskdn.simulation.scenario import Scenario, random_scenario, what_if


def test_settings_are_parsed_by_the_type_of_their_default() -> None:
    assert scheduler_overrides(["endgame_race=true", "race_below=0.2",
                                "min_steal_bytes=131072"]) == {
        "endgame_race": True, "race_below": 0.2, "min_steal_bytes": 131072}


@pytest.mark.parametrize(("pair", "says"), [
    ("no_such_field=1", "no_such_field=1: expected NAME=VALUE"),
    ("endgame_race", "endgame_race: expected NAME=VALUE"),
    ("endgame_race=maybe", "'maybe' is not a bool"),
    ("race_below=fast", "'fast' is not a float"),
])
def test_a_wrong_setting_is_named(pair: str, says: str) -> None:
    with pytest.raises(SystemExit, match=says):
        scheduler_overrides([pair])


def test_a_bootstrap_interval_holds_its_figure_is_repeatable_and_narrows_with_more_data(
) -> None:
    rng = random.Random(5)
    few = [rng.random() for _ in range(50)]
    many = [rng.random() for _ in range(2000)]
    lo, hi = bootstrap_interval(few, 0.5)
    assert lo < quantile(few, 0.5) < hi
    assert bootstrap_interval(few, 0.5) == (lo, hi)
    lo_many, hi_many = bootstrap_interval(many, 0.5)
    assert lo_many < 0.5 < hi_many  # the population's median
    assert hi_many - lo_many < (hi - lo) / 3


def _troubled() -> Scenario:
    """A seeded scenario with a stall, a failure, a liar and a rate change."""
    for seed in range(1000):
        sc = random_scenario(seed, flac=False)
        if {"stall", "fail", "corrupt", "rate-change"} <= set(sc.tags):
            return sc
    raise AssertionError("no seed below 1000 has every fault")


def test_no_faults_takes_every_fault_away_and_nothing_else() -> None:
    sc = _troubled()
    calm = what_if(sc, ("no-faults",))
    assert calm.tags == ()
    assert not any(s.stall_at or s.fail_at or s.corrupt_blocks or s.rate_changes
                   for s in calm.sources)
    assert [(s.rate, s.negotiation, s.advertised_speed) for s in calm.sources] == [
        (s.rate, s.negotiation, s.advertised_speed) for s in sc.sources]
    assert t_star(calm) < t_star(sc)  # nobody fails early any more


def test_honest_liars_keeps_every_other_fault() -> None:
    sc = _troubled()
    honest = what_if(sc, ("honest-liars",))
    assert "corrupt" not in honest.tags and {"stall", "fail", "rate-change"} <= set(honest.tags)
    assert not any(s.corrupt_blocks for s in honest.sources)
    assert [s.fail_at for s in honest.sources] == [s.fail_at for s in sc.sources]


def test_exact_speeds_are_advertised_and_taken_at_face_value() -> None:
    sc = _troubled()
    exact = what_if(sc, ("exact-speeds",))
    assert [s.advertised_speed for s in exact.sources] == [s.rate for s in sc.sources]
    assert any(s.advertised_speed != s.rate for s in sc.sources)
    assert exact.tags == sc.tags
    assert session_config((), ("exact-speeds",)).costs.advertised_discount == 1.0
    assert session_config((), ()).costs.advertised_discount < 1.0


def test_an_unknown_what_if_is_named() -> None:
    with pytest.raises(ValueError, match="unknown what-if 'no-liars'"):
        what_if(_troubled(), ("no-liars",))


def test_free_negotiations_leave_overlay_peers_and_rates_alone() -> None:
    sc = next(s for s in (random_scenario(seed) for seed in range(1000))
              if any(x.kind == OVERLAY for x in s.sources)
              and any(x.queue_delay for x in s.sources))
    free = what_if(sc, ("free-negotiations",))
    for before, after in zip(sc.sources, free.sources, strict=True):
        assert after.rate == before.rate
        if before.kind == OVERLAY:
            assert after == before
        else:
            assert after.first_byte_delay() < 0.4 and after.first_byte_delay(first=False) < 0.4
    assert t_star(free) < t_star(sc)

"""``benchmarks.swarm``: ``--set NAME=VALUE`` (scheduler fields by name, typed by their
defaults) and the bootstrap interval beside its figures."""

from __future__ import annotations

import random

import pytest

from benchmarks.swarm import bootstrap_interval, quantile, scheduler_overrides


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

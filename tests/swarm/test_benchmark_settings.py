"""``benchmarks.swarm --set NAME=VALUE``: scheduler fields by name, typed by their defaults."""

from __future__ import annotations

import pytest

from benchmarks.swarm import scheduler_overrides


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

"""The projections this node maintains, by name."""

from __future__ import annotations

from slskdn.projections.activity import ActivityProjection
from slskdn.projections.framework import Projection
from slskdn.projections.health import HealthProjection
from slskdn.projections.library import LibraryProjection


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [
        ActivityProjection(),
        LibraryProjection(),
        HealthProjection(),
    ]
    return {p.name: p for p in projections}

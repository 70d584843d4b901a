"""The projections this node maintains, by name."""

from __future__ import annotations

from slskdn.projections.activity import ActivityProjection
from slskdn.projections.framework import Projection


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [ActivityProjection()]
    return {p.name: p for p in projections}

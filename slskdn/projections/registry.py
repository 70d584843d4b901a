"""The projections this node maintains, by name."""

from __future__ import annotations

from slskdn.config import Settings
from slskdn.projections.activity import ActivityProjection
from slskdn.projections.framework import Projection
from slskdn.projections.health import HealthProjection
from slskdn.projections.library import LibraryProjection
from slskdn.projections.peer_quality import PeerQualityProjection
from slskdn.projections.transfers import TransfersProjection
from slskdn.swarm_settings import metrics_config, reputation_config


def all_projections(settings: Settings | None = None) -> dict[str, Projection]:
    peer_quality = (
        PeerQualityProjection(metrics_config(settings), reputation_config(settings))
        if settings is not None
        else PeerQualityProjection()
    )
    projections: list[Projection] = [
        ActivityProjection(),
        LibraryProjection(),
        HealthProjection(),
        peer_quality,
        TransfersProjection(),
    ]
    return {p.name: p for p in projections}

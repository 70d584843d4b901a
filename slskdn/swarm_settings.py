"""Map the ``swarm``, ``rescue`` and ``playback`` config sections onto the pure policies'
frozen configs (the domain never sees pydantic)."""

from __future__ import annotations

from dataclasses import replace

from slskdn.config import Settings
from slskdn.domain.swarm.cost import CostParams
from slskdn.domain.swarm.metrics import MetricsConfig
from slskdn.domain.swarm.reputation import ReputationConfig
from slskdn.domain.swarm.session import SessionConfig
from slskdn.domain.swarm.snapshot import SchedulerConfig
from slskdn.domain.swarm.stall import StallConfig
from slskdn.domain.swarm.zones import ZoneConfig


def session_config(settings: Settings) -> SessionConfig:
    s, r, p = settings.swarm, settings.rescue, settings.playback
    return SessionConfig(
        scheduler=replace(
            SchedulerConfig(),
            cost_based=s.cost_based,
            mode=s.mode,
            rebalance_interval=s.rebalance_interval_s,
            endgame_race=s.endgame_race,
        ),
        stall=replace(
            StallConfig(),
            max_queue_minutes=r.max_queue_minutes,
            min_speed_kbps=r.min_speed_kbps,
            window_seconds=r.window_s,
        ),
        zones=replace(
            ZoneConfig(),
            high_seconds=p.high_seconds,
            mid_seconds=p.mid_seconds,
            critical_buffer_seconds=p.critical_buffer_seconds,
            relax_fairness_when_critical=p.relax_fairness_when_critical,
        ),
        costs=replace(
            CostParams(),
            alpha=s.cost_alpha,
            beta=s.cost_beta,
            gamma=s.cost_gamma,
            weight=s.cost_reputation_weight,
            quarantine_below=s.quarantine_below,
        ),
    )


def metrics_config(settings: Settings) -> MetricsConfig:
    return replace(MetricsConfig(), throughput_alpha=settings.swarm.throughput_alpha)


def reputation_config(settings: Settings) -> ReputationConfig:
    return replace(
        ReputationConfig(),
        half_life_s=settings.swarm.reputation_half_life_hours * 3600.0,
        quarantine_below=settings.swarm.quarantine_below,
    )

"""Per-peer transfer metrics, folded from plain observation records.

Throughput and RTT are exponential moving averages (EMA) over samples; error, timeout, cancel and
corrupt counts decay exponentially with time so that an old bad day fades. Rates are ratios of
decayed counts, so they stay in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .decisions import (
    CancelledByPeer,
    CorruptRangeFound,
    NegotiationTimed,
    Observation,
    QueuedByPeer,
    RangeCompleted,
    RangeServed,
    RttSampled,
    TransferErrored,
    TransferTimedOut,
)


@dataclass(frozen=True)
class MetricsConfig:
    throughput_alpha: float = 0.1  # weight of a new throughput sample in the EMA
    rtt_alpha: float = 0.2
    negotiation_alpha: float = 0.3
    count_half_life_s: float = 3600.0  # errors an hour old weigh half as much
    # Samples shorter than this are merged by the caller; a tiny sample says little about speed.
    min_sample_seconds: float = 0.05


@dataclass(frozen=True)
class PeerMetrics:
    peer_id: str
    throughput: float | None = None  # bytes/s EMA
    rtt: float | None = None  # seconds EMA
    negotiation: float | None = None  # seconds EMA, Soulseek queue + handshake
    successes: float = 0.0  # decayed count of completed ranges and served samples
    errors: float = 0.0
    timeouts: float = 0.0
    cancellations: float = 0.0
    corrupt: float = 0.0
    bytes_served: int = 0
    updated_at: float = 0.0

    @property
    def known(self) -> bool:
        return self.throughput is not None

    def decayed(self, now: float, config: MetricsConfig) -> PeerMetrics:
        """The same metrics seen at ``now``: counts shrink with the configured half-life."""
        if now <= self.updated_at:
            return self
        factor = math.pow(0.5, (now - self.updated_at) / config.count_half_life_s)
        return replace(
            self,
            successes=self.successes * factor,
            errors=self.errors * factor,
            timeouts=self.timeouts * factor,
            cancellations=self.cancellations * factor,
            corrupt=self.corrupt * factor,
            updated_at=now,
        )

    def _attempts(self) -> float:
        return self.successes + self.errors + self.timeouts + self.cancellations + self.corrupt

    @property
    def error_rate(self) -> float:
        """Errors, cancellations and corrupt ranges per attempt."""
        attempts = self._attempts()
        if attempts <= 0:
            return 0.0
        return (self.errors + self.cancellations + self.corrupt) / attempts

    @property
    def timeout_rate(self) -> float:
        attempts = self._attempts()
        return self.timeouts / attempts if attempts > 0 else 0.0


def _ema(old: float | None, sample: float, alpha: float) -> float:
    return sample if old is None else (1.0 - alpha) * old + alpha * sample


def observe(metrics: PeerMetrics, observation: Observation, config: MetricsConfig) -> PeerMetrics:
    """Fold one observation about ``metrics.peer_id`` into its metrics."""
    m = metrics.decayed(observation.at, config)
    match observation:
        case RangeServed(size=size, duration=duration):
            if duration < config.min_sample_seconds or size <= 0:
                return replace(m, bytes_served=m.bytes_served + max(size, 0))
            return replace(
                m,
                throughput=_ema(m.throughput, size / duration, config.throughput_alpha),
                bytes_served=m.bytes_served + size,
            )
        case RangeCompleted():
            return replace(m, successes=m.successes + 1.0)
        case RttSampled(rtt=rtt):
            return replace(m, rtt=_ema(m.rtt, rtt, config.rtt_alpha))
        case NegotiationTimed(duration=duration):
            return replace(m, negotiation=_ema(m.negotiation, duration, config.negotiation_alpha))
        case TransferErrored():
            return replace(m, errors=m.errors + 1.0)
        case TransferTimedOut():
            return replace(m, timeouts=m.timeouts + 1.0)
        case CancelledByPeer():
            return replace(m, cancellations=m.cancellations + 1.0)
        case CorruptRangeFound():
            return replace(m, corrupt=m.corrupt + 1.0)
        case QueuedByPeer():
            return m  # a busy peer is not a worse one: its queue says nothing of its speed
    raise TypeError(f"not an observation: {observation!r}")


class MetricsBook:
    """Metrics of every peer seen, keyed by peer id (a convenience over ``observe``)."""

    def __init__(self, config: MetricsConfig | None = None) -> None:
        self.config = config or MetricsConfig()
        self._peers: dict[str, PeerMetrics] = {}

    def get(self, peer_id: str) -> PeerMetrics:
        return self._peers.get(peer_id) or PeerMetrics(peer_id)

    def observe(self, observation: Observation) -> PeerMetrics:
        updated = observe(self.get(observation.peer_id), observation, self.config)
        self._peers[observation.peer_id] = updated
        return updated

    def snapshot(self, now: float) -> dict[str, PeerMetrics]:
        return {pid: m.decayed(now, self.config) for pid, m in self._peers.items()}

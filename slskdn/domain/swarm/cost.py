"""Peer cost: one number that orders sources from most to least attractive.

    cost = alpha / throughput + beta * error_rate + gamma * timeout_rate + weight * (1 - reputation)

``alpha / throughput`` is seconds per ``alpha`` bytes (default: seconds per MiB), so the first
term is a time and the others are penalties in the same unit.

Cold start. A peer with no measured throughput is given the *median* throughput of the measured
candidates (``cold_start_throughput`` when none is measured), zero error and timeout rates (no
evidence) and its reputation (0.5 for a stranger). It therefore lands in the middle of the ranking:
it is tried (no starvation) but does not displace a peer known to be fast (no domination). An
advertised upload speed from search results, when known, replaces the median, discounted by
``advertised_discount`` because peers' advertised speeds are optimistic averages.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .metrics import PeerMetrics


@dataclass(frozen=True)
class CostParams:
    alpha: float = 1024.0 * 1024.0  # bytes: the first term is seconds per MiB
    beta: float = 2.0
    gamma: float = 2.0
    weight: float = 1.0
    cold_start_throughput: float = 256.0 * 1024.0  # bytes/s when nothing is known at all
    advertised_discount: float = 0.7
    # Learn the discount in the session: once this many candidates have both an advertised
    # and a measured speed, their median ratio replaces ``advertised_discount``.
    calibrate_after: int = 2
    min_throughput: float = 1024.0  # floor so a stalled peer has a large, finite cost
    quarantine_below: float = 0.2  # reputation under which a peer is a last resort


@dataclass(frozen=True)
class Candidate:
    """A peer that can serve the file."""

    peer_id: str
    advertised_speed: float | None = None  # bytes/s from search results


@dataclass(frozen=True)
class RankedPeer:
    peer_id: str
    cost: float
    throughput: float  # the estimate used (measured or cold-start)
    cold_start: bool
    quarantined: bool


def peer_cost(throughput: float, error_rate: float, timeout_rate: float, reputation: float,
              params: CostParams) -> float:
    t = max(throughput, params.min_throughput)
    return (params.alpha / t + params.beta * error_rate + params.gamma * timeout_rate
            + params.weight * (1.0 - reputation))


def cold_start_throughput(known: Iterable[float], params: CostParams) -> float:
    values = [v for v in known if v > 0]
    return statistics.median(values) if values else params.cold_start_throughput


def estimate_throughput(candidate: Candidate, metrics: PeerMetrics | None, fallback: float,
                        params: CostParams, discount: float | None = None) -> tuple[float, bool]:
    """(throughput estimate, whether it is a cold-start guess)."""
    if metrics is not None and metrics.throughput is not None:
        return metrics.throughput, False
    if candidate.advertised_speed:
        factor = params.advertised_discount if discount is None else discount
        return candidate.advertised_speed * factor, True
    return fallback, True


def advertised_discount(candidates: Iterable[Candidate], metrics: Mapping[str, PeerMetrics],
                        params: CostParams) -> float:
    """How advertised speeds compare with what the same candidates actually delivered: the
    median ratio once ``calibrate_after`` of them are measured, else the configured guess.
    (Search results advertise an average over all of a peer's uploads; what matters is what
    it gives this download, and the ratio is similar across peers of one session.)"""
    ratios = [m.throughput / c.advertised_speed for c in candidates
              if c.advertised_speed and (m := metrics.get(c.peer_id)) and m.throughput]
    if params.calibrate_after <= 0 or len(ratios) < params.calibrate_after:
        return params.advertised_discount
    return min(3.0, max(0.1, statistics.median(ratios)))


def rank_peers(candidates: Iterable[Candidate], metrics: Mapping[str, PeerMetrics],
               reputations: Mapping[str, float], params: CostParams) -> list[RankedPeer]:
    """Candidates from cheapest to dearest; quarantined peers always come last."""
    cands = list(candidates)
    known = [m.throughput for c in cands if (m := metrics.get(c.peer_id)) and m.throughput]
    fallback = cold_start_throughput((t for t in known if t is not None), params)
    discount = advertised_discount(cands, metrics, params)
    ranked: list[RankedPeer] = []
    for c in cands:
        m = metrics.get(c.peer_id)
        throughput, cold = estimate_throughput(c, m, fallback, params, discount)
        reputation = reputations.get(c.peer_id, 0.5)
        error_rate = m.error_rate if m else 0.0
        timeout_rate = m.timeout_rate if m else 0.0
        cost = peer_cost(throughput, error_rate, timeout_rate, reputation, params)
        ranked.append(RankedPeer(c.peer_id, cost, throughput, cold,
                                 reputation < params.quarantine_below))
    ranked.sort(key=lambda r: (r.quarantined, r.cost, r.peer_id))
    return ranked

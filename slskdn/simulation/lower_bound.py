"""The fluid lower bound T* on the download time of a scenario.

T* is the smallest T with ∫₀ᵀ min(D, Σ_{a_i ≤ t < f_i} b_i(t)) dt ≥ S, where a_i is source i's
first-byte time (queue + negotiation + round trip), f_i its failure time and b_i(t) its rate
(piecewise constant: rate changes and a stall are part of it — a stalled source counts until the
stall and then at its residual rate). It assumes perfect knowledge and free re-splitting, so no
real scheduler reaches it.

A corrupt source's bad bytes do not count: it contributes at rate b_i · (1 − q_i), q_i being
the share of its blocks that are wrong. That is what an oracle knowing which blocks are bad could
get from it; a real downloader must first find out, so the bound stays a bound (leaving corrupt
sources out entirely would not be: the swarm can and does use their good bytes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .scenario import Scenario, SimSource


@dataclass(frozen=True)
class SourceCurve:
    """Bytes/s a source could deliver: ``rates`` are (from time, rate), valid in [start, end)."""

    start: float
    end: float
    rates: Sequence[tuple[float, float]]

    def rate_at(self, t: float) -> float:
        if not self.start <= t < self.end:
            return 0.0
        rate = 0.0
        for at, r in self.rates:
            if at <= t:
                rate = r
            else:
                break
        return rate

    def breakpoints(self) -> list[float]:
        return [self.start, *(t for t, _ in self.rates), self.end]


def fluid_lower_bound(size: float, curves: Iterable[SourceCurve], downlink: float) -> float:
    """Exact T* for piecewise-constant rates (inf if the sources can never deliver ``size``)."""
    curves = list(curves)
    if size <= 0:
        return 0.0
    points = sorted({p for c in curves for p in c.breakpoints() if math.isfinite(p) and p >= 0})
    done = 0.0
    for i, t in enumerate(points):
        rate = min(downlink, sum(c.rate_at(t) for c in curves))
        nxt = points[i + 1] if i + 1 < len(points) else math.inf
        if rate > 0 and done + rate * (nxt - t) >= size:
            return t + (size - done) / rate
        if math.isfinite(nxt):
            done += rate * (nxt - t)
    return math.inf


def curve_of(source: SimSource, good_share: float = 1.0) -> SourceCurve:
    end = source.fail_at if source.fail_at is not None else math.inf
    rates = [(t, r * good_share) for t, r in source.schedule()]
    return SourceCurve(source.first_byte_delay(first=True), end, rates)


def t_star(scenario: Scenario, size: int | None = None, block_size: int = 64 * 1024) -> float:
    """T* for the first ``size`` bytes (the whole file by default) of a scenario."""
    blocks = -(-scenario.file_size // block_size)
    curves = [curve_of(s, 1.0 - len(s.corrupt_blocks) / blocks) for s in scenario.sources]
    return fluid_lower_bound(scenario.file_size if size is None else size, curves,
                             scenario.downlink)

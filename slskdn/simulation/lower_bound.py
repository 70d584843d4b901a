"""The fluid lower bound T* on the download time of a scenario.

T* is the smallest T with ∫₀ᵀ min(D, Σ_{a_i ≤ t < f_i} b_i(t)) dt ≥ S, where a_i is source i's
first-byte time (queue + negotiation + round trip), f_i its failure time and b_i(t) its rate
(piecewise constant: rate changes and a stall are part of it — a stalled source counts until the
stall and then at its residual rate). It assumes perfect knowledge and free re-splitting, so no
real scheduler reaches it.

A corrupt source has only its good blocks to give, but gives them at its full rate: an oracle
knowing which blocks are bad asks it for those alone. So by time T the sources can deliver at
most min(∫₀ᵀ min(D, Σ b_i) dt, Σ_i min(G_i, ∫₀ᵀ b_i dt)) file bytes, G_i being source i's good
bytes, and T* is the smallest T at which that reaches S: the later of the plain fluid bound and
the time the capped capacities add up to S (both are upper bounds on what can arrive, so T*
stays a lower bound). Until session 12 a corrupt source counted at b_i · (1 − q_i) (q_i: the
share of its blocks that are bad), which is no bound at all: a liar whose bad blocks are at the
end serves its good ones at full rate (downloads beat that "bound": T*/T of 1.04 and 1.09 in
benchmark scenarios), and one whose good blocks run out early cannot carry its share to the
end.
"""

from __future__ import annotations

import itertools
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


def curve_of(source: SimSource) -> SourceCurve:
    end = source.fail_at if source.fail_at is not None else math.inf
    return SourceCurve(source.first_byte_delay(first=True), end, source.schedule())


def delivered_by(curve: SourceCurve, t: float) -> float:
    """Bytes a source could send alone by time ``t`` (its own rate, no downlink)."""
    points = sorted({p for p in curve.breakpoints() if math.isfinite(p) and p < t} | {t})
    return sum(curve.rate_at(a) * (b - a) for a, b in itertools.pairwise(points))


def capacity_bound(size: float, curves: Sequence[SourceCurve], good: Sequence[float],
                   after: float = 0.0) -> float:
    """Smallest T (≥ ``after``) with Σ min(good_i, delivered_i(T)) ≥ size (inf if never)."""
    if sum(good) < size:
        return math.inf

    def enough(t: float) -> bool:
        return sum(min(g, delivered_by(c, t)) for c, g in zip(curves, good, strict=True)) >= size

    lo, hi = after, max(after, 1.0)
    while not enough(hi):
        lo, hi = hi, hi * 2.0
        if hi > 1e9:
            return math.inf
    if enough(lo):
        return lo
    for _ in range(60):  # 2^-60 of the bracket: far finer than any time that matters
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi


def good_bytes(source: SimSource, size: int, block_size: int) -> float:
    """Bytes of the first ``size`` a source serves right."""
    bad = sum(max(0, min(size, (b + 1) * block_size) - b * block_size)
              for b in source.corrupt_blocks if b * block_size < size)
    return float(size - bad)


def t_star(scenario: Scenario, size: int | None = None, block_size: int = 64 * 1024) -> float:
    """T* for the first ``size`` bytes (the whole file by default) of a scenario."""
    size = scenario.file_size if size is None else size
    curves = [curve_of(s) for s in scenario.sources]
    fluid = fluid_lower_bound(size, curves, scenario.downlink)
    if math.isinf(fluid) or not any(s.corrupt_blocks for s in scenario.sources):
        return fluid
    good = [good_bytes(s, size, block_size) for s in scenario.sources]
    return capacity_bound(size, curves, good, after=fluid)

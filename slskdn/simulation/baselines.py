"""Baselines computed on the same scenarios: one peer, and one peer at a time with failover.

Both are computed exactly from the source curves rather than simulated, and both are generous:
corruption is ignored (they would deliver a bad file, not a slower one), and the single best
peer is chosen with hindsight.
"""

from __future__ import annotations

import math

from .lower_bound import SourceCurve, curve_of
from .scenario import Scenario, SimSource


def _fetch(curve: SourceCurve, begin: float, size: float, downlink: float,
           give_up: float = math.inf) -> tuple[float, float]:
    """Stream from ``begin`` until ``size`` bytes or the curve ends / ``give_up``.

    Returns (time reached, bytes fetched).
    """
    points = sorted({p for p in curve.breakpoints() if p > begin and math.isfinite(p)})
    t, done = begin, 0.0
    for nxt in [*points, math.inf]:
        stop = min(nxt, give_up, curve.end)
        rate = min(downlink, curve.rate_at(t))
        if rate > 0 and done + rate * (stop - t) >= size:
            return t + (size - done) / rate, size
        if not math.isfinite(stop):
            return math.inf, done
        done += rate * (stop - t)
        t = stop
        if t >= give_up or t >= curve.end:
            return t, done
    return math.inf, done


def single_best(scenario: Scenario) -> float:
    """The fastest single source in hindsight (inf if none can deliver the file alone)."""
    best = math.inf
    for s in scenario.sources:
        curve = curve_of(s)
        t, got = _fetch(curve, curve.start, scenario.file_size, scenario.downlink)
        if got >= scenario.file_size:
            best = min(best, t)
    return best


def _stall_detected(source: SimSource, stall_timeout: float) -> float:
    return source.stall_at + stall_timeout if source.stall_at is not None else math.inf


def sequential_failover(scenario: Scenario, stall_timeout: float = 5.0) -> float:
    """What the competitor does: one source at a time, best advertised speed first; when the
    transfer fails or stalls (noticed ``stall_timeout`` s after the stall) the next source is
    asked and resumes at the same offset."""
    order = sorted(scenario.sources, key=lambda s: (-(s.advertised_speed or s.rate),
                                                    s.source_id))
    t, offset = 0.0, 0.0
    for s in order:
        if s.fail_at is not None and s.fail_at <= t:
            t += max(s.negotiation, 2.0)  # the connection attempt to an offline peer times out
            continue
        begin = t + s.first_byte_delay(first=True)
        curve = SourceCurve(begin, s.fail_at if s.fail_at is not None else math.inf,
                            s.schedule())
        give_up = _stall_detected(s, stall_timeout)
        end, got = _fetch(curve, begin, scenario.file_size - offset, scenario.downlink, give_up)
        offset += got
        if offset >= scenario.file_size - 1e-6:
            return end
        t = max(end, begin) if math.isfinite(end) else begin
    return math.inf

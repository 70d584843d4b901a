"""The arithmetic of sharing a file between sources: runs, binders, takes and splits.

A *run* is the part of a range a source is still expected to deliver: from its confirmed
position to the end of the bytes it owns, at its rate, starting when its bytes start to flow.
A *binder* is a source about to get work — a Soulseek source whose file connection just opened
(or, for planning a negotiation, will open), or an overlay source with room in its queue.
A *take* is the work a binder gets. Splits are chosen so that victim and binder finish together
(``fair_take``, ``chained_split``); ``balanced_finish`` gives the time at which all work would end
if it could be shared freely, used to plan shares for sources still negotiating.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .decisions import SourceKind
from .range_map import align_up


@dataclass
class Run:
    """Working model of one source's remaining range (mutated while a plan is built)."""

    source_id: str
    kind: SourceKind
    position: int  # estimated next byte
    end: int  # end of the in-flight bytes the source owns (where a steal cuts)
    owned_from: int  # start of the last contiguous in-flight bytes it owns (a cut goes after)
    rate: float  # bytes/s used for planning (0 when stalled)
    starts_at: float  # when bytes flow: now for a streaming source, later for a waiting one
    verdict: str | None = None
    confirmed: int = -1  # last position the source confirmed
    measured: bool = True  # the rate was measured on this transfer (not a prior)
    virtual: bool = False  # planned for a source still negotiating: cannot really be stolen from
    duplicated: bool = False  # someone already races this run
    request_end: int = -1  # where the source's transfer stops (an extension moves it later)

    def __post_init__(self) -> None:
        if self.confirmed < 0:
            self.confirmed = self.position
        if self.request_end < 0:
            self.request_end = self.end

    def remaining(self, limit: int | None = None) -> int:
        end = self.end if limit is None else min(self.end, limit)
        return max(0, end - self.position)

    def finish(self, limit: int | None = None) -> float:
        """When the run reaches ``limit`` (or its end)."""
        left = self.remaining(limit)
        if left == 0:
            return self.starts_at
        return self.starts_at + left / self.rate if self.rate > 0 else math.inf


@dataclass(frozen=True)
class Binder:
    source_id: str
    kind: SourceKind
    rate: float  # planning rate (estimate × reliability)
    starts_at: float  # when its first byte would arrive
    overlap: int = 0  # bytes re-sent at a steal for a cross-check
    negotiating: bool = False  # planning a negotiation (costly) rather than binding a ready one


@dataclass(frozen=True)
class Take:
    """A unit of work for a binder: pending bytes, a stolen tail, or a duplicate race."""

    kind: Literal["assign", "steal", "duplicate"]
    start: int  # first byte the binder fetches
    end: int
    victim: str | None = None
    victim_end: int = 0
    new_end: int = 0  # the victim's new end (steal only)
    saves: float = 0.0  # seconds the zone finishes sooner
    reason: str = ""
    # Slower runs right after the victim's range that the binder streams on into; they are
    # cancelled (their owners lose to the binder) and the binder's range ends where they did.
    taken_over: tuple[str, ...] = ()
    finish: float = 0.0  # when the binder and the runs it touched are expected to finish
    healthy: bool = False  # a race of a healthy, only slower victim (end game)


def balanced_finish(capacities: Iterable[tuple[float, float]], work: float, now: float) -> float:
    """Smallest T with Σ rate_i · max(0, T − start_i) ≥ work (start_i clamped to now)."""
    if work <= 0:
        return now
    caps = sorted((max(start, now), rate) for rate, start in capacities if rate > 0)
    if not caps:
        return math.inf
    done = 0.0
    total_rate = 0.0
    t = caps[0][0]
    for i, (start, rate) in enumerate(caps):
        if i > 0:
            if total_rate > 0 and done + total_rate * (start - t) >= work:
                return t + (work - done) / total_rate
            done += total_rate * (start - t)
            t = start
        total_rate += rate
    return t + (work - done) / total_rate


def pending_in(gaps: Sequence[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Pending gaps that intersect [lo, hi), with their start clipped to the zone."""
    return [(max(g0, lo), g1) for g0, g1 in gaps if g0 < hi and g1 > lo]


def split_for(victim: Run, binder: Binder, take: float, limit: int, block: int,
              safety: int) -> int | None:
    """The victim's new end when the binder fetches ``take`` bytes (its overlap block included)
    before ``limit``.

    Rounded up to a block boundary (the binder gets a little less, never more than planned) and
    never closer than ``safety`` bytes to the victim's position (its stream may already be
    there). None if nothing is left to take.
    """
    zone_end = min(victim.end, limit)
    new_end = align_up(int(zone_end - take + binder.overlap), block, zone_end)
    earliest = max(align_up(victim.position + safety, block, victim.end), victim.owned_from)
    new_end = max(new_end, earliest)
    return new_end if new_end < zone_end else None


def chained_split(victim: Run, binder: Binder, end: int, waste: int) -> float:
    """Where to cut the victim so that it and the binder finish together when the binder
    streams from the cut to ``end`` (re-fetching ``waste`` bytes others already have).

    (x − p)/v = δ + (end − x + w)/a  ⇒  x = (a·p + v·(a·δ + end + w)) / (a + v)
    """
    p, v, a = victim.position, victim.rate, binder.rate
    if v <= 0 or victim.verdict:
        return float(p)
    delay = max(0.0, binder.starts_at - victim.starts_at)
    return (a * p + v * (a * delay + end + waste + binder.overlap)) / (a + v)


def steal_saving(victim: Run, binder: Binder, new_end: int, limit: int) -> float:
    """Seconds by which the zone part of the victim's range finishes sooner after the steal."""
    zone_end = min(victim.end, limit)
    before = victim.finish(limit)
    kept = Run(victim.source_id, victim.kind, victim.position, new_end, victim.owned_from,
               victim.rate, victim.starts_at, victim.verdict)
    thief_bytes = zone_end - new_end + binder.overlap
    after = max(kept.finish(), binder.starts_at + thief_bytes / binder.rate)
    return before - after


def fair_take(victim: Run, binder: Binder, limit: int) -> float:
    """Bytes of the victim's zone part the binder should take so that both finish together.

    With victim rate v, binder rate a, binder delay δ and r bytes left, the victim keeps
    x = v(aδ' + r)/(a + v) where δ' is how much later the binder starts.
    """
    r = victim.remaining(limit)
    if victim.rate <= 0 or victim.verdict:
        return float(r)
    v, a = victim.rate, binder.rate
    delay = max(0.0, binder.starts_at - victim.starts_at)
    kept = v * (a * delay + r) / (a + v)
    return max(0.0, r - kept)


def describe_bytes(n: float) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    return f"{n / 1024:.0f} KiB"

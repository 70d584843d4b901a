"""Where a simulated download lost time against T*: capacity each source had but did not use.

The sources' capacity curves are the ones the bound uses: from the first byte of the first
request to the failure, corrupt sources at their full rate (they have good blocks to give), all
scaled under the downlink; C(T) is what they add up to by T. A download that ends at T had
C(T) − S bytes of capacity it did not turn into file bytes (C(T*) = S, unless a corrupt
source's good bytes run out first, which makes T* later). This module splits that into what
each source was doing while its capacity went unused, so the sum of the categories is exactly
C(T) − S (expressed as a fraction of S):

- ``negotiation``: asked for the first time later than t = 0 (a source's very first
  negotiation costs nothing: T* starts its curve after it);
- ``renegotiation``: waiting for a new Soulseek transfer after an earlier one ended;
- ``first_byte``: a request sent, its first byte not there yet;
- ``released``: idle after it was asked before (nothing worth a new range, end-game tail);
- ``backoff``, ``suspended``, ``convicted``, ``not_asked``: idle for those reasons;
- ``duplicate``: bytes that arrived when another source had already delivered them;
- ``discarded``: bytes written, then thrown away (a corrupt source's, or re-checked ones);
- ``stream_shortfall``: a streaming source delivered less than its capacity (it had to share
  the downlink with duplicates, or its stream was cut before its capacity ran out).

It watches the event loop after every event (``EventLoop.observer``), so it costs time: a
diagnostic for ``benchmarks.swarm --breakdown``, not part of a normal run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

from slskdn.domain.swarm.decisions import SOULSEEK

from .lower_bound import curve_of

if TYPE_CHECKING:
    from slskdn.domain.swarm.session import SwarmSession

    from .clock import EventLoop
    from .scenario import Scenario
    from .transport import SimulatedTransport

CATEGORIES = ("negotiation", "renegotiation", "first_byte", "ready", "released", "backoff",
              "suspended", "convicted", "not_asked", "dead", "duplicate", "discarded",
              "stream_shortfall")


@dataclass
class Timeline:
    """Per source: (time, category) whenever its category changed."""

    changes: dict[str, list[tuple[float, str]]] = field(default_factory=dict)

    def note(self, now: float, source_id: str, category: str) -> None:
        seq = self.changes.setdefault(source_id, [])
        if not seq or seq[-1][1] != category:
            seq.append((now, category))


def category_of(transport: SimulatedTransport, session: SwarmSession, source_id: str) -> str:
    peer = transport.peers[source_id]
    rt = session.sources[source_id]
    if rt.suspended is not None and rt.suspended.startswith("convicted"):
        return "convicted"
    if peer.state == "dead":
        return "dead"
    if peer.streams:
        return "streaming" if peer.streams[0].started else "first_byte"
    if peer.source.kind == SOULSEEK and peer.state == "negotiating":
        return "negotiation" if peer.transfers <= 1 else "renegotiation"
    if peer.source.kind == SOULSEEK and peer.state == "ready":
        return "ready"
    if rt.suspended is not None:
        return "suspended"
    if transport.loop.now < rt.backoff_until:
        return "backoff"
    return "not_asked" if rt.negotiations == 0 and not rt.delivered else "released"


def attach(loop: EventLoop, transport: SimulatedTransport, session: SwarmSession) -> Timeline:
    """Record every source's category after every event."""
    timeline = Timeline()

    def observe() -> None:
        for sid in transport.peers:
            timeline.note(loop.now, sid, category_of(transport, session, sid))

    observe()
    loop.observer = observe
    return timeline


@dataclass(frozen=True)
class Breakdown:
    t_star: float
    time: float
    lost: dict[str, float]  # category -> unused capacity / S
    by_source: dict[str, dict[str, float]]  # source -> category -> unused capacity / S
    timeline: Timeline = field(default_factory=Timeline)

    @property
    def total(self) -> float:
        return sum(self.lost.values())

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        return sorted(((k, v) for k, v in self.lost.items() if v > 0.005),
                      key=lambda kv: -kv[1])[:n]


def analyse(scenario: Scenario, timeline: Timeline, transport: SimulatedTransport,
            end: float, t_star: float) -> Breakdown:
    """Split the capacity the sources had in [0, ``end``) by what they were doing."""
    curves = {s.source_id: curve_of(s) for s in scenario.sources}
    points = {0.0, end}
    for c in curves.values():
        points.update(p for p in c.breakpoints() if math.isfinite(p) and 0 <= p < end)
    for seq in timeline.changes.values():
        points.update(t for t, _ in seq if t < end)
    times = sorted(points)
    capacity: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cursor = {sid: 0 for sid in timeline.changes}
    for t0, t1 in pairwise(times):
        rates = {sid: c.rate_at(t0) for sid, c in curves.items()}
        total = sum(rates.values())
        scale = min(1.0, scenario.downlink / total) if total > 0 else 1.0
        for sid, seq in timeline.changes.items():
            i = cursor[sid]
            while i + 1 < len(seq) and seq[i + 1][0] <= t0:
                i += 1
            cursor[sid] = i
            capacity[sid][seq[i][1]] += rates[sid] * scale * (t1 - t0)
    size = scenario.file_size
    by_source: dict[str, dict[str, float]] = {}
    lost: dict[str, float] = defaultdict(float)
    for sid, cats in capacity.items():
        mine: dict[str, float] = {}
        for cat, amount in cats.items():
            if cat != "streaming":
                mine[cat] = amount / size
        delivered = transport.useful.get(sid, 0) + transport.duplicate.get(sid, 0)
        mine["duplicate"] = transport.duplicate.get(sid, 0) / size
        mine["stream_shortfall"] = (cats.get("streaming", 0.0) - delivered) / size
        by_source[sid] = mine
        for cat, v in mine.items():
            lost[cat] += v
    lost["discarded"] = transport.part.discarded / size
    # Useful bytes beyond S are the discarded ones fetched again: already counted above.
    return Breakdown(t_star, end, {c: lost.get(c, 0.0) for c in CATEGORIES}, by_source,
                     timeline)

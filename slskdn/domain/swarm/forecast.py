"""A quick look ahead: when would the download end if the swarm went on from here?

Choosing a range by how soon *it* ends is myopic on Soulseek: every source that runs out of
work pays a new negotiation before it helps again, sources still negotiating will arrive and
split what is left, and whoever ends last sets the finish. ``forecast`` plays that future
forward in a fluid model — lanes stream at their rates; a lane that ends frees its source,
which negotiates again and, once ready, takes the fair back part of the lane that would end
last (if that saves time); sources negotiating or idle join the same way — and returns the
time the last lane ends. The scheduler compares candidate takes by it.

Pure arithmetic over plain numbers; no I/O, time passed in.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

NEVER = 1e6  # "never ends" as a large finite number, so forecasts stay comparable


@dataclass
class Lane:
    """A source's remaining contiguous work: bytes [position, end) from ``starts`` on."""

    source_id: str
    rate: float
    position: float
    end: float
    starts: float  # when its bytes flow
    delay: float  # seconds its source needs to get a new range (negotiation + round trip)
    rtt: float = 0.0

    def finish(self) -> float:
        left = self.end - self.position
        if left <= 0:
            return self.starts
        return self.starts + left / self.rate if self.rate > 0 else self.starts + NEVER

    def position_at(self, t: float) -> float:
        if t <= self.starts or self.rate <= 0:
            return self.position
        return min(self.end, self.position + self.rate * (t - self.starts))


@dataclass(frozen=True, order=True)
class Helper:
    """A source that can take a range once ready (negotiating now, idle, or freed later)."""

    ready: float
    source_id: str
    rate: float
    rtt: float
    delay: float


@dataclass(frozen=True, order=True)
class Outcome:
    """``end``: when the last lane ends; ``mean``: when the average remaining byte arrives (a
    plan that ends at the same time but gets most bytes sooner leaves less to chance)."""

    end: float
    mean: float


def forecast(lanes: list[Lane], helpers: list[Helper], now: float, *, min_bytes: float,
             min_gain: float, race_below: float = 0.0, max_events: int = 200) -> Outcome:
    """Play the swarm forward. ``lanes`` are not modified."""
    work = [Lane(x.source_id, x.rate, x.position, x.end, x.starts, x.delay, x.rtt)
            for x in lanes if x.end > x.position]
    queue = list(helpers)
    heapq.heapify(queue)
    t = now
    events = 0
    area = total = 0.0

    def account(lane: Lane) -> tuple[float, float]:
        size = lane.end - lane.position
        if size <= 0:
            return 0.0, 0.0
        return size * (lane.starts + 0.5 * (lane.finish() - lane.starts)), size

    while work and events < max_events:
        events += 1
        first = min(work, key=lambda x: x.finish())
        if queue and queue[0].ready < first.finish():
            h = heapq.heappop(queue)
            t = max(t, h.ready)
            _bind(work, h, t, min_bytes, min_gain, race_below)
            continue
        t = max(t, first.finish())
        work.remove(first)
        a, b = account(first)
        area, total = area + a, total + b
        # An overlay peer's queued chunks are lanes of one source served one after another:
        # it is free (and helps once, at its one rate) only when its last lane ends.
        busy = any(x.source_id == first.source_id for x in work)
        if work and first.rate > 0 and not busy:
            heapq.heappush(queue, Helper(t + first.delay, first.source_id, first.rate,
                                         first.rtt, first.delay))
    for lane in work:
        a, b = account(lane)
        area, total = area + a, total + b
    end = max((x.finish() for x in work), default=t)
    return Outcome(min(end, now + NEVER), min(area / total, now + NEVER) if total else now)


def _bind(work: list[Lane], h: Helper, t: float, min_bytes: float, min_gain: float,
          race_below: float) -> None:
    """The helper takes the back of the lane that ends last, so both end together (a lane
    far slower than the helper is raced instead: the helper takes all of it). A lane too
    short to cut, or not worth it, is passed over for the one ending before it, as a free
    source would."""
    s, a = t + h.rtt, h.rate
    if a <= 0:
        return
    for victim in sorted(work, key=lambda x: -x.finish()):
        p = victim.position_at(s)
        left = victim.end - p
        if left < min_bytes:
            continue
        v = max(victim.rate, 0.0)
        if v < race_below * a:
            v = 0.0
        kept = left * v / (v + a)
        together = s + left / (v + a)
        if victim.finish() - together < min_gain:
            continue
        cut = p + kept
        work.append(Lane(h.source_id, a, cut, victim.end, s, h.delay, h.rtt))
        victim.end = cut
        if v <= 0:
            work.remove(victim)  # a stalled lane is raced and loses
        return

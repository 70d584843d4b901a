"""A virtual clock and event queue: time only moves when the next event is taken."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class Timer:
    at: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class EventLoop:
    """Deterministic discrete-event loop: events at equal times run in scheduling order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[Timer] = []
        self._seq = itertools.count()
        self.events_run = 0
        self.observer: Callable[[], None] | None = None  # called after every event (diagnostics)

    def call_at(self, at: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(max(at, self.now), next(self._seq), callback)
        heapq.heappush(self._queue, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self.now + max(delay, 0.0), callback)

    def run(self, stop: Callable[[], bool], time_limit: float, max_events: int = 5_000_000) -> bool:
        """Run events until ``stop()`` is true; False if time or event budget ran out first."""
        while self._queue and not stop():
            timer = heapq.heappop(self._queue)
            if timer.cancelled:
                continue
            if timer.at > time_limit or self.events_run >= max_events:
                return False
            self.now = timer.at
            self.events_run += 1
            timer.callback()
            if self.observer is not None:
                self.observer()
        return stop()

"""Stall detection: is a transfer underperforming, and why (in words)?

A transfer is underperforming when it has waited in the peer's queue longer than
``max_queue_minutes``, or when its speed over the last ``window_seconds`` stayed below
``min_speed_kbps`` (kilobits per second, the unit audio bitrates use), or below
``relative_floor`` of what the same transfer did before (a fast peer that drops to a crawl is
stalled even if the crawl is above the absolute floor). A verdict does not kill the transfer:
the scheduler hands its range to someone else and closes it only once the replacement is ready.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

VerdictKind = Literal["queued too long", "too slow", "stalled"]


@dataclass(frozen=True)
class StallConfig:
    max_queue_minutes: float = 10.0
    min_speed_kbps: float = 64.0  # kilobits/s = 8,000 bytes/s
    window_seconds: float = 5.0
    relative_floor: float = 0.05  # below 5% of the transfer's earlier speed counts as stalled


@dataclass(frozen=True)
class ProgressSample:
    at: float
    received: int  # bytes received by this transfer so far (cumulative)


@dataclass(frozen=True)
class TransferWatch:
    """What stall detection knows about one transfer."""

    source_id: str
    requested_at: float  # when the transfer was asked for (queue time counts from here)
    streaming_since: float | None  # first byte time; None while still queued / negotiating
    samples: Sequence[ProgressSample] = ()  # progress samples, oldest first


@dataclass(frozen=True)
class Verdict:
    source_id: str
    kind: VerdictKind
    reason: str
    speed_kbps: float | None = None


def received_at(samples: Sequence[ProgressSample], at: float) -> int:
    """Bytes received by time ``at``: the last sample at or before it (zero before the first)."""
    i = bisect_right(samples, at, key=lambda s: s.at)
    return samples[i - 1].received if i else 0


def speed_between(samples: Sequence[ProgressSample], since: float, until: float) -> float:
    """Average bytes/s over [since, until]."""
    if until <= since:
        return 0.0
    return (received_at(samples, until) - received_at(samples, since)) / (until - since)


def assess(watch: TransferWatch, now: float, config: StallConfig) -> Verdict | None:
    """A verdict if the transfer is underperforming at ``now``, else None."""
    if watch.streaming_since is None:
        waited = now - watch.requested_at
        if waited > config.max_queue_minutes * 60.0:
            return Verdict(watch.source_id, "queued too long",
                           f"queued {waited / 60.0:.1f} min (limit {config.max_queue_minutes:g})")
        return None
    window_start = now - config.window_seconds
    if window_start < watch.streaming_since:
        return None  # not streaming long enough to judge
    speed = speed_between(watch.samples, window_start, now)
    kbps = speed * 8.0 / 1000.0
    if kbps < config.min_speed_kbps:
        return Verdict(watch.source_id, "too slow",
                       f"slower than {config.min_speed_kbps:g} kbps for "
                       f"{config.window_seconds:g} s ({kbps:.0f} kbps)", kbps)
    earlier = speed_between(watch.samples, watch.streaming_since, window_start)
    if earlier > 0 and speed < config.relative_floor * earlier:
        return Verdict(watch.source_id, "stalled",
                       f"dropped to {100.0 * speed / earlier:.0f}% of its earlier speed "
                       f"for {config.window_seconds:g} s", kbps)
    return None

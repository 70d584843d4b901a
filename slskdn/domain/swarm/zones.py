"""Priority zones for playback: bytes near the play head matter more than bytes far from it.

Given the play position and the audio byte rate, the file is cut into:

- high: the next ``high_seconds`` of audio — only reliable sources that are faster than playback
  take these bytes, and overlay chunks are small so they arrive soon;
- mid: up to ``mid_seconds`` ahead;
- low: the rest (and anything before the play head) — large chunks, slow sources welcome.

When the contiguous buffer ahead of the play head is shorter than ``critical_buffer_seconds`` the
plan is *critical*: the scheduler pulls the next bytes from the best sources aggressively and,
only if ``relax_fairness_when_critical`` is set, goes beyond the mode's limit on sources.
Without playback the whole file is one low zone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

KIB = 1024


class Zone(enum.IntEnum):
    HIGH = 0
    MID = 1
    LOW = 2


@dataclass(frozen=True)
class ZoneConfig:
    high_seconds: float = 30.0
    mid_seconds: float = 120.0
    critical_buffer_seconds: float = 5.0
    high_chunk: int = 64 * KIB
    mid_chunk: int = 256 * KIB
    low_chunk: int = 1024 * KIB
    # A source takes high-zone bytes only if it delivers at least this multiple of playback speed.
    high_min_rate_factor: float = 1.0
    relax_fairness_when_critical: bool = False


@dataclass(frozen=True)
class ZoneSpan:
    zone: Zone
    start: int
    end: int


@dataclass(frozen=True)
class ZonePlan:
    spans: tuple[ZoneSpan, ...]  # in priority order: high first, low last
    byte_rate: float | None  # audio bytes per second; None without playback
    play_position: int
    buffered_until: int  # end of the contiguous received run from the play position
    critical: bool
    relax_fairness: bool
    config: ZoneConfig

    @property
    def buffer_seconds(self) -> float | None:
        if not self.byte_rate:
            return None
        return (self.buffered_until - self.play_position) / self.byte_rate

    def zone_of(self, offset: int) -> Zone:
        for span in self.spans:
            if span.start <= offset < span.end:
                return span.zone
        return Zone.LOW

    def chunk_size(self, zone: Zone) -> int:
        return {Zone.HIGH: self.config.high_chunk, Zone.MID: self.config.mid_chunk,
                Zone.LOW: self.config.low_chunk}[zone]

    def eligible(self, zone: Zone, rate: float, reliable: bool, measured: bool = True) -> bool:
        """May a source with this rate and reliability take bytes of ``zone``?

        The bar is ``high_min_rate_factor`` × playback speed: a slower source still gets a small
        piece (splits equalise finishing times) but never one it cannot deliver in time. A
        rate that is only a guess (advertised speed) must clear twice the bar: a slow source
        holding the next seconds of audio is the one thing playback cannot afford.
        """
        if zone != Zone.HIGH or self.byte_rate is None:
            return True
        if self.critical and self.relax_fairness:
            return rate > 0
        bar = self.config.high_min_rate_factor * self.byte_rate * (1.0 if measured else 2.0)
        return reliable and rate >= bar


def bytes_for_seconds(seconds: float, bitrate_kbps: float) -> int:
    """Bytes of ``seconds`` of audio at ``bitrate_kbps`` kilobits per second."""
    return int(seconds * bitrate_kbps * 1000.0 / 8.0)


def whole_file(file_size: int, config: ZoneConfig | None = None) -> ZonePlan:
    """No playback: one low zone, chunks large, every source welcome."""
    return ZonePlan((ZoneSpan(Zone.LOW, 0, file_size),), None, 0, 0, False, False,
                    config or ZoneConfig())


def plan_zones(file_size: int, play_position: int, byte_rate: float, buffered_until: int,
               config: ZoneConfig) -> ZonePlan:
    """Zones around the play head; ``buffered_until`` is where the received run from it ends."""
    if byte_rate <= 0:
        raise ValueError("byte_rate must be positive")
    p = max(0, min(play_position, file_size))
    high_end = min(file_size, p + int(config.high_seconds * byte_rate))
    mid_end = min(file_size, max(high_end, p + int(config.mid_seconds * byte_rate)))
    spans = [ZoneSpan(Zone.HIGH, p, high_end), ZoneSpan(Zone.MID, high_end, mid_end),
             ZoneSpan(Zone.LOW, mid_end, file_size), ZoneSpan(Zone.LOW, 0, p)]
    buffer_s = (max(buffered_until, p) - p) / byte_rate
    critical = buffered_until < file_size and buffer_s < config.critical_buffer_seconds
    return ZonePlan(tuple(s for s in spans if s.end > s.start), byte_rate, p,
                    max(buffered_until, p), critical,
                    critical and config.relax_fairness_when_critical, config)

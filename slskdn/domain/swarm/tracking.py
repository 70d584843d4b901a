"""Runtime bookkeeping of a swarm session: sources, their transfers and their measured rates."""

from __future__ import annotations

from dataclasses import dataclass, field

from .decisions import SourceKind, SourceState
from .snapshot import RequestView
from .stall import ProgressSample, TransferWatch

# The first reads of a stream drain what the network buffered during the handshake: on the
# loopback benchmark a 2 MiB/s peer delivered 100 KiB in its first 2 ms (54 MB/s) and a 4 MiB/s
# one 340 KiB in 16 ms. Bytes of this first window are counted, but not as a rate.
BURST_S = 0.05


@dataclass(frozen=True)
class SourceSpec:
    """A source of the file: one peer sharing an identical copy."""

    source_id: str
    kind: SourceKind
    peer_id: str = ""  # defaults to source_id
    advertised_speed: float | None = None  # bytes/s, from search results

    @property
    def peer(self) -> str:
        return self.peer_id or self.source_id


@dataclass
class Transfer:
    """One request to a source, from the session's side."""

    request_id: int
    source_id: str
    start: int
    end: int
    requested_at: float
    position: int = -1  # next byte expected; starts at ``start``
    first_byte_at: float | None = None
    progress_at: float = 0.0
    duplicate_of: str | None = None
    races_healthy: bool = False  # the source it races is only slower, not underperforming
    races: int | None = None  # request id of the transfer it races (its end may move)
    verify_only: bool = False  # a tie-break fetch of one block
    delivered: int = 0  # bytes this transfer delivered (counted even if duplicates)
    samples: list[ProgressSample] = field(default_factory=list)
    timed_out: bool = False  # a stall verdict was already recorded for it
    alone: bool = True  # requested while the source had nothing else in flight
    sample_bytes: int = 0  # bytes since the last throughput sample
    sample_since: float = 0.0
    planned_near_end: float = -1e9  # when a plan last ran because the stream neared its end
    frames_checked: int = -1  # the format check judged this stream's bytes up to here
    frames_synced: bool = False  # ... and that offset is a known frame start

    def __post_init__(self) -> None:
        if self.position < 0:
            self.position = self.start
        self.progress_at = self.requested_at

    def view(self) -> RequestView:
        return RequestView(self.start, self.position, self.end, self.progress_at,
                           self.first_byte_at, self.duplicate_of)

    def watch(self) -> TransferWatch:
        return TransferWatch(self.source_id, self.requested_at, self.first_byte_at, self.samples)


@dataclass
class SourceRuntime:
    spec: SourceSpec
    state: SourceState = "idle"
    negotiation_started: float | None = None
    negotiations: int = 0
    negotiation_times: list[float] = field(default_factory=list)  # seconds, this session
    # Parallel to ``negotiation_times``: did that request wait in the peer's upload queue?
    # Such a time is someone else's upload ending, not what asking this peer again costs.
    queue_waits: list[bool] = field(default_factory=list)
    transfers: dict[int, Transfer] = field(default_factory=dict)
    # (time, cumulative bytes) of everything this source delivered, for its recent rate.
    history: list[tuple[float, int]] = field(default_factory=list)
    delivered: int = 0
    backoff_until: float = 0.0
    suspended: str | None = None  # why the source may not be used (trace, conviction)
    burst_until: float = float("-inf")  # see BURST_S
    # What its last cancelled stream showed (bytes/s, silence counting), and until when that
    # caps its rate: a stream closed for being silent is evidence the next plan must keep.
    closed_rate: float | None = None
    closed_rate_until: float = float("-inf")

    @property
    def source_id(self) -> str:
        return self.spec.source_id

    def record_bytes(self, size: int, now: float) -> None:
        self.delivered += size
        if now < self.burst_until:  # still the stream's first burst: measure from here on
            self.history = [(now, self.delivered)]
            return
        if self.history and self.history[-1][0] == now:
            self.history[-1] = (now, self.delivered)
        else:
            self.history.append((now, self.delivered))
            if len(self.history) > 64:
                del self.history[:32]

    @property
    def data_at(self) -> float:
        """When the source's last byte arrived (on any transfer); -inf if never."""
        return self.history[-1][0] if self.history else float("-inf")

    def stream_started(self, now: float) -> None:
        """A transfer started after the source was idle: measure its rate from here."""
        if not any(t.first_byte_at is not None for t in self.transfers.values()):
            self.history = [(now, self.delivered)]
            self.burst_until = now + BURST_S

    def stream_closed(self, t: Transfer, now: float, block: int, hold: float) -> None:
        """A stream of this source was cancelled at ``now``: remember the rate it showed."""
        if t.first_byte_at is None or t.verify_only:
            return
        rate = self.recent_rate(now)
        if rate is None:  # nothing measured after its first byte: it sent under a block since
            elapsed = now - t.first_byte_at
            if elapsed <= 0:
                return
            rate = max(t.delivered, block) / elapsed
        self.closed_rate, self.closed_rate_until = rate, now + hold

    def recent_rate(self, now: float, samples: int = 6) -> float | None:
        """Bytes/s over the last few deliveries, stretched to ``now`` so that silence lowers it.

        None before two samples exist (the caller falls back to a prior).
        """
        if len(self.history) < 2:
            return None
        k = min(samples, len(self.history) - 1)
        t0, b0 = self.history[-1 - k]
        t1, b1 = self.history[-1]
        span = t1 - t0
        # Stretched to now only when the silence since the last delivery is longer than the
        # usual gap between deliveries: a plan made between two reads is no evidence of a
        # slowdown, and stretching it anyway would bias every estimate low.
        if now - t1 > 2.0 * span / k:
            span = now - t0
        if span <= 0:
            return None
        return (b1 - b0) / span

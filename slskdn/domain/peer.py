"""The Peer aggregate: what this node has observed of one remote peer.

Observations only; reputation and metrics are derived from them by projections and
pure policies, never stored here, so the formula can change and be replayed.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from slskdn.domain.aggregate import Aggregate
from slskdn.domain.errors import DomainError


class Peer(Aggregate):
    """A remote source (Soulseek user or overlay node)."""

    class Created(Aggregate.Created):
        username: str
        source_kind: str

    class RangeServed(Aggregate.Event):
        transfer_id: UUID | None
        bytes: int
        duration_ms: int

        def apply(self, peer: Peer) -> None:
            peer.ranges_served += 1
            peer.bytes_served += self.bytes

    class RangeCompleted(Aggregate.Event):
        transfer_id: UUID | None
        offset: int
        length: int

        def apply(self, peer: Peer) -> None:
            peer.ranges_completed += 1

    class NegotiationTimed(Aggregate.Event):
        duration_ms: int

        def apply(self, peer: Peer) -> None:
            peer.last_negotiation_ms = self.duration_ms

    class RttSampled(Aggregate.Event):
        rtt_ms: float

        def apply(self, peer: Peer) -> None:
            peer.last_rtt_ms = self.rtt_ms

    class ErrorObserved(Aggregate.Event):
        error_code: str
        reason: str

        def apply(self, peer: Peer) -> None:
            peer.errors += 1

    class TimedOut(Aggregate.Event):
        waited_ms: int

        def apply(self, peer: Peer) -> None:
            peer.timeouts += 1

    class CancelledByPeer(Aggregate.Event):
        reason: str

        def apply(self, peer: Peer) -> None:
            peer.cancellations += 1

    class CorruptDataSent(Aggregate.Event):
        transfer_id: UUID | None
        offset: int
        length: int

        def apply(self, peer: Peer) -> None:
            peer.corrupt_ranges += 1

    def __init__(self, username: str, source_kind: str) -> None:
        self.username = username
        self.source_kind = source_kind
        self.ranges_served = 0
        self.ranges_completed = 0
        self.last_negotiation_ms: int | None = None
        self.bytes_served = 0
        self.last_rtt_ms: float | None = None
        self.errors = 0
        self.timeouts = 0
        self.cancellations = 0
        self.corrupt_ranges = 0

    @classmethod
    def create(cls, *, id: UUID, at: datetime, username: str, source_kind: str) -> Peer:
        if not username:
            raise DomainError("a peer needs a username")
        return cls._create(
            cls.Created, id=id, username=username, source_kind=source_kind, timestamp=at
        )

    def record_range_served(
        self, at: datetime, bytes: int, duration_ms: int, transfer_id: UUID | None = None
    ) -> None:
        if bytes < 0 or duration_ms < 0:
            raise DomainError("bytes and duration must not be negative")
        self.trigger_event(
            self.RangeServed,
            transfer_id=transfer_id,
            bytes=bytes,
            duration_ms=duration_ms,
            timestamp=at,
        )

    def record_range_completed(
        self, at: datetime, offset: int, length: int, transfer_id: UUID | None = None
    ) -> None:
        self.trigger_event(
            self.RangeCompleted, transfer_id=transfer_id, offset=offset, length=length, timestamp=at
        )

    def record_negotiation(self, at: datetime, duration_ms: int) -> None:
        if duration_ms < 0:
            raise DomainError("a negotiation time must not be negative")
        self.trigger_event(self.NegotiationTimed, duration_ms=duration_ms, timestamp=at)

    def record_rtt(self, at: datetime, rtt_ms: float) -> None:
        if rtt_ms < 0:
            raise DomainError("an RTT must not be negative")
        self.trigger_event(self.RttSampled, rtt_ms=rtt_ms, timestamp=at)

    def record_error(self, at: datetime, error_code: str, reason: str) -> None:
        self.trigger_event(self.ErrorObserved, error_code=error_code, reason=reason, timestamp=at)

    def record_timeout(self, at: datetime, waited_ms: int) -> None:
        self.trigger_event(self.TimedOut, waited_ms=waited_ms, timestamp=at)

    def record_cancelled(self, at: datetime, reason: str) -> None:
        self.trigger_event(self.CancelledByPeer, reason=reason, timestamp=at)

    def record_corrupt(
        self, at: datetime, offset: int, length: int, transfer_id: UUID | None = None
    ) -> None:
        self.trigger_event(
            self.CorruptDataSent,
            transfer_id=transfer_id,
            offset=offset,
            length=length,
            timestamp=at,
        )

"""The Transfer aggregate: one file fetched from one or more sources.

Range events carry the job, recording, variant and peer ids, the source kind, offset,
byte count, duration and error code, so that each event is a self-contained line of a
session trace. Bytes themselves never pass through here: the network layer writes them
to the part file, and the aggregate records what happened.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from slskdn.domain.aggregate import Aggregate
from slskdn.domain.errors import DomainError, InvalidRange, InvalidTransition


class SourceKind(StrEnum):
    SOULSEEK = "soulseek"
    OVERLAY = "overlay"


class TransferStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ABORTED = "aborted"


class Transfer(Aggregate):
    """A file being downloaded; the only writer of its range history."""

    # Snapshots keep the aggregate's attributes: one taken before an attribute existed is
    # upcast when it is read back (eventsourcing calls upcast_vN_vN+1 in turn).
    class_version = 2

    class Created(Aggregate.Created):
        job_id: UUID | None
        recording_id: str
        variant_id: str
        filename: str
        size_bytes: int

    class SourcesAdded(Aggregate.Event):
        sources: list[dict[str, str]]

        def apply(self, transfer: Transfer) -> None:
            for source in self.sources:
                transfer.sources[source["peer_id"]] = dict(source)

    class RangeEvent(Aggregate.Event):
        """Fields shared by every range event (one session-trace line)."""

        job_id: UUID | None
        recording_id: str
        variant_id: str
        peer_id: str
        source_kind: str
        offset: int
        bytes: int
        duration_ms: int
        error_code: str

    class RangeRequested(RangeEvent):
        def apply(self, transfer: Transfer) -> None:
            transfer.ranges_requested += 1

    class RangeReceived(RangeEvent):
        def apply(self, transfer: Transfer) -> None:
            transfer.bytes_received += self.bytes
            per_peer = transfer.bytes_by_peer
            per_peer[self.peer_id] = per_peer.get(self.peer_id, 0) + self.bytes

    class RangeFailed(RangeEvent):
        reason: str

        def apply(self, transfer: Transfer) -> None:
            transfer.ranges_failed += 1

    class RangeTimedOut(RangeEvent):
        def apply(self, transfer: Transfer) -> None:
            transfer.ranges_timed_out += 1

    class SourceUnderperforming(RangeEvent):
        """Stall detection's verdict on a source: queued too long or too slow (D1)."""

        reason: str

        def apply(self, transfer: Transfer) -> None:
            transfer.underperforming[self.peer_id] = self.reason

    class SourceQueued(RangeEvent):
        """A Soulseek peer put our request in its upload queue (``place``, if it said)."""

        place: int | None

        def apply(self, transfer: Transfer) -> None:
            transfer.queued[self.peer_id] = self.place

    class RangeVerified(Aggregate.Event):
        offset: int
        length: int
        sha256: str

        def apply(self, transfer: Transfer) -> None:
            transfer.bytes_verified += self.length

    class DestinationChosen(Aggregate.Event):
        """Where the file goes: the part file while it downloads, the path once complete."""

        dest_path: str
        part_path: str

        def apply(self, transfer: Transfer) -> None:
            transfer.dest_path = self.dest_path
            transfer.part_path = self.part_path

    class Resumed(Aggregate.Event):
        """A new run picked the transfer up; ``kept_bytes`` of the part file were reused."""

        kept_bytes: int
        reason: str

        def apply(self, transfer: Transfer) -> None:
            transfer.resumes += 1

    class Rebalanced(Aggregate.Event):
        reason: str
        moves: list[dict[str, Any]]

        def apply(self, transfer: Transfer) -> None:
            transfer.rebalances += 1

    class RescueActivated(Aggregate.Event):
        reason: str

        def apply(self, transfer: Transfer) -> None:
            transfer.rescue = True

    class RescueDeactivated(Aggregate.Event):
        reason: str

        def apply(self, transfer: Transfer) -> None:
            transfer.rescue = False

    class Completed(Aggregate.Event):
        sha256: str

        def apply(self, transfer: Transfer) -> None:
            transfer.status = TransferStatus.COMPLETED
            transfer.sha256 = self.sha256

    class Aborted(Aggregate.Event):
        reason: str

        def apply(self, transfer: Transfer) -> None:
            transfer.status = TransferStatus.ABORTED
            transfer.reason = self.reason

    def __init__(
        self,
        job_id: UUID | None,
        recording_id: str,
        variant_id: str,
        filename: str,
        size_bytes: int,
    ) -> None:
        self.job_id = job_id
        self.recording_id = recording_id
        self.variant_id = variant_id
        self.filename = filename
        self.size_bytes = size_bytes
        self.status = TransferStatus.ACTIVE
        self.sources: dict[str, dict[str, str]] = {}
        self.bytes_received = 0
        self.bytes_verified = 0
        self.bytes_by_peer: dict[str, int] = {}
        self.ranges_requested = 0
        self.ranges_failed = 0
        self.ranges_timed_out = 0
        self.rebalances = 0
        self.rescue = False
        self.underperforming: dict[str, str] = {}
        self.sha256 = ""
        self.reason = ""
        self.dest_path = ""
        self.part_path = ""
        self.resumes = 0
        self.queued: dict[str, int | None] = {}  # peers that queued us, at which place

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.setdefault("resumes", 0)  # v2: resumes and peers that queued us
        state.setdefault("queued", {})

    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        at: datetime,
        filename: str,
        size_bytes: int,
        job_id: UUID | None = None,
        recording_id: str = "",
        variant_id: str = "",
    ) -> Transfer:
        if size_bytes < 0:
            raise DomainError(f"file size must not be negative (got {size_bytes})")
        return cls._create(
            cls.Created,
            id=id,
            job_id=job_id,
            recording_id=recording_id,
            variant_id=variant_id,
            filename=filename,
            size_bytes=size_bytes,
            timestamp=at,
        )

    def choose_destination(self, at: datetime, dest_path: str, part_path: str) -> None:
        self._check_active()
        if not dest_path or not part_path:
            raise DomainError("a destination needs both the final path and the part file")
        self.trigger_event(
            self.DestinationChosen, dest_path=dest_path, part_path=part_path, timestamp=at
        )

    def resume(self, at: datetime, kept_bytes: int, reason: str) -> None:
        self._check_active()
        if not 0 <= kept_bytes <= self.size_bytes:
            raise DomainError(f"kept {kept_bytes} bytes of a {self.size_bytes}-byte file")
        self.trigger_event(self.Resumed, kept_bytes=kept_bytes, reason=reason, timestamp=at)

    def add_sources(self, at: datetime, sources: list[dict[str, str]]) -> None:
        self._check_active()
        for source in sources:
            if "peer_id" not in source or source.get("kind") not in set(SourceKind):
                raise DomainError(f"a source needs a peer_id and a kind: {source!r}")
        new = [s for s in sources if s["peer_id"] not in self.sources]
        if new:
            self.trigger_event(self.SourcesAdded, sources=new, timestamp=at)

    def request_range(self, at: datetime, peer_id: str, offset: int, length: int) -> None:
        self._check_range(peer_id, offset, length)
        self._range_event(self.RangeRequested, at, peer_id, offset, length)

    def receive_range(
        self, at: datetime, peer_id: str, offset: int, length: int, duration_ms: int
    ) -> None:
        self._check_range(peer_id, offset, length)
        self._range_event(self.RangeReceived, at, peer_id, offset, length, duration_ms)

    def fail_range(
        self,
        at: datetime,
        peer_id: str,
        offset: int,
        error_code: str,
        reason: str,
        length: int = 0,
        duration_ms: int = 0,
    ) -> None:
        self._check_active()
        self._check_source(peer_id)
        self._range_event(
            self.RangeFailed, at, peer_id, offset, length, duration_ms, error_code, reason=reason
        )

    def time_out_range(self, at: datetime, peer_id: str, offset: int, waited_ms: int) -> None:
        self._check_active()
        self._check_source(peer_id)
        self._range_event(self.RangeTimedOut, at, peer_id, offset, 0, waited_ms, "timeout")

    def report_underperforming(
        self, at: datetime, peer_id: str, offset: int, reason: str, waited_ms: int = 0
    ) -> None:
        self._check_active()
        self._check_source(peer_id)
        self._range_event(
            self.SourceUnderperforming, at, peer_id, offset, 0, waited_ms, "underperforming",
            reason=reason,
        )  # fmt: skip

    def report_queued(self, at: datetime, peer_id: str, place: int | None) -> None:
        self._check_active()
        self._check_source(peer_id)
        if place is not None and place < 0:
            raise DomainError(f"a place in a queue is not negative (got {place})")
        self._range_event(self.SourceQueued, at, peer_id, 0, 0, 0, "queued", place=place)

    def verify_range(self, at: datetime, offset: int, length: int, sha256: str) -> None:
        self._check_active()
        self._check_bounds(offset, length)
        self.trigger_event(
            self.RangeVerified, offset=offset, length=length, sha256=sha256, timestamp=at
        )

    def rebalance(self, at: datetime, reason: str, moves: list[dict[str, Any]]) -> None:
        self._check_active()
        self.trigger_event(self.Rebalanced, reason=reason, moves=moves, timestamp=at)

    def activate_rescue(self, at: datetime, reason: str) -> None:
        self._check_active()
        if not self.rescue:
            self.trigger_event(self.RescueActivated, reason=reason, timestamp=at)

    def deactivate_rescue(self, at: datetime, reason: str) -> None:
        self._check_active()
        if self.rescue:
            self.trigger_event(self.RescueDeactivated, reason=reason, timestamp=at)

    def complete(self, at: datetime, sha256: str) -> None:
        self._check_active()
        self.trigger_event(self.Completed, sha256=sha256, timestamp=at)

    def abort(self, at: datetime, reason: str) -> None:
        self._check_active()
        self.trigger_event(self.Aborted, reason=reason, timestamp=at)

    def _range_event(
        self,
        event_class: type[RangeEvent],
        at: datetime,
        peer_id: str,
        offset: int,
        length: int,
        duration_ms: int = 0,
        error_code: str = "",
        **extra: Any,
    ) -> None:
        self.trigger_event(
            event_class,
            job_id=self.job_id,
            recording_id=self.recording_id,
            variant_id=self.variant_id,
            peer_id=peer_id,
            source_kind=self.sources[peer_id]["kind"],
            offset=offset,
            bytes=length,
            duration_ms=duration_ms,
            error_code=error_code,
            timestamp=at,
            **extra,
        )

    def _check_active(self) -> None:
        if self.status != TransferStatus.ACTIVE:
            raise InvalidTransition(f"transfer is {self.status}")

    def _check_source(self, peer_id: str) -> None:
        if peer_id not in self.sources:
            raise DomainError(f"peer {peer_id} is not a source of this transfer")

    def _check_range(self, peer_id: str, offset: int, length: int) -> None:
        self._check_active()
        self._check_source(peer_id)
        self._check_bounds(offset, length)

    def _check_bounds(self, offset: int, length: int) -> None:
        if length <= 0 or offset < 0 or offset + length > self.size_bytes:
            raise InvalidRange(
                f"range [{offset}, {offset + length}) is outside the file "
                f"of {self.size_bytes} bytes"
            )

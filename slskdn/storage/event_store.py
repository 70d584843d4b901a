"""The event store: one eventsourcing application holding every aggregate's events.

Writes go through :class:`slskdn.actors.writer.EventWriter` (group commit); this module
only opens the store, reads aggregates and notifications, and maps failures to
:class:`StoreUnavailable` with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification

from slskdn.domain.job import Job
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer
from slskdn.storage.database import DatabaseLocation, StoreUnavailable

AGGREGATE_TYPES: dict[str, type[Any]] = {"job": Job, "transfer": Transfer, "peer": Peer}


class SlskdnEvents(Application[UUID]):
    """All aggregates of one slskdn node."""

    name = "slskdn"
    # Notification log sections of 10 make log readers do 100 queries per 1,000 events.
    log_section_size = 1000
    is_snapshotting_enabled = True


class EventStore:
    """Opened store: the eventsourcing application plus the database location."""

    def __init__(self, location: DatabaseLocation) -> None:
        self.location = location
        if location.is_sqlite:
            location.check_sqlite_file()
        else:
            location.check_postgres_server()
        try:
            self.app = SlskdnEvents(env=location.eventsourcing_env())
            # Touch the database now so that a bad file or a server that is down is
            # reported when the store opens, not on the first write.
            self.app.recorder.max_notification_id()
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(
                f"event store at {location.display()} cannot be opened: {_reason(exc)}"
            ) from None

    def save(self, events: Sequence[DomainEventProtocol[UUID]]) -> None:
        """Append events in one transaction (all or nothing).

        ``app.events.put`` rather than ``app.save``: the writer hands over events, not
        aggregates, and save()'s per-object protocol checks cost a third of the time.
        """
        self.app.events.put(list(events))

    def save_snapshots(self, snapshots: Sequence[Any]) -> None:
        assert self.app.snapshots is not None
        self.app.snapshots.put(list(snapshots))

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        return self.app.repository.get(aggregate_id, version=version)

    def find(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def events_of(self, aggregate_id: UUID, lte: int | None = None) -> list[Any]:
        return list(self.app.events.get(aggregate_id, lte=lte))

    def notifications(
        self, start: int, limit: int, topics: Sequence[str] = ()
    ) -> Sequence[Notification]:
        return self.app.recorder.select_notifications(start, limit, topics=topics)

    def max_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def decode(self, notification: Notification) -> Any:
        return self.app.mapper.to_domain_event(notification)

    def close(self) -> None:
        self.app.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return text

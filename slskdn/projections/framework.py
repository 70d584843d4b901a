"""Read models built only from the event log.

A projection names the event classes it reads and owns SQLAlchemy tables in the same
database as the event store. A runner feeds it notifications in batches and writes the
projection's rows and its tracking position in ONE transaction, so each event is applied
exactly once even if the process dies mid-way. The same ``apply`` serves incremental
following (daemon) and a rebuild from event 0, so the two cannot drift apart.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from eventsourcing.utils import get_topic

from slskdn.storage.event_store import EventStore

tracking_metadata = sa.MetaData()
tracking_table = sa.Table(
    "projection_tracking",
    tracking_metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class Projection(ABC):
    """One read model. Subclasses set ``name``, ``version``, ``reads`` and ``metadata``."""

    name: ClassVar[str]
    # Bump when apply() or the tables change: the runner then rebuilds from event 0.
    version: ClassVar[int] = 1
    reads: ClassVar[tuple[type, ...]]
    metadata: ClassVar[sa.MetaData]

    @property
    def topics(self) -> list[str]:
        return [get_topic(cls) for cls in self.reads]

    @abstractmethod
    def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
        """Apply a batch of events (in log order) inside the caller's transaction."""

    def clear(self, conn: sa.Connection) -> None:
        for table in reversed(self.metadata.sorted_tables):
            conn.execute(table.delete())


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    head: int
    version: int
    stored_version: int | None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)

    @property
    def needs_rebuild(self) -> bool:
        return self.stored_version is not None and self.stored_version != self.version


class ProjectionRunner:
    """Keeps one projection up to date with the log."""

    def __init__(
        self, store: EventStore, engine: sa.Engine, projection: Projection, batch_size: int = 5000
    ) -> None:
        self.store = store
        self.engine = engine
        self.projection = projection
        self.batch_size = batch_size
        # Runners of one process take turns; across processes the conditional update of
        # the tracking row refuses the second writer.
        self._lock = threading.Lock()
        with engine.begin() as conn:
            tracking_metadata.create_all(conn)
            projection.metadata.create_all(conn)

    def position(self) -> tuple[int, int | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(tracking_table.c.position, tracking_table.c.version).where(
                    tracking_table.c.name == self.projection.name
                )
            ).first()
        return (row[0], row[1]) if row else (0, None)

    def status(self) -> ProjectionStatus:
        position, stored_version = self.position()
        return ProjectionStatus(
            self.projection.name,
            position,
            self.store.max_position(),
            self.projection.version,
            stored_version,
        )

    def catch_up(self) -> int:
        """Apply every event after the tracked position; returns how many were applied."""
        with self._lock:
            return self._catch_up()

    def _catch_up(self) -> int:
        position, stored_version = self.position()
        if stored_version is not None and stored_version != self.projection.version:
            return self._rebuild(recreate=True)
        head = self.store.max_position()
        applied = 0
        topics = self.projection.topics
        while position < head:
            notifications = self.store.notifications(position + 1, self.batch_size, topics)
            batch = [n for n in notifications if n.id <= head]
            # Past the last event this projection reads, the rest of the log up to head is
            # ignored events: tracking moves to head so they are not scanned again.
            new_position = batch[-1].id if len(batch) == self.batch_size else head
            events = [self.store.decode(n) for n in batch]
            with self.engine.begin() as conn:
                if events:
                    self.projection.apply(conn, events)
                self._track(conn, position, new_position)
            applied += len(events)
            position = new_position
        return applied

    def rebuild(self) -> int:
        """Drop the rows and replay the whole log."""
        with self._lock:
            return self._rebuild()

    def _rebuild(self, recreate: bool = False) -> int:
        with self.engine.begin() as conn:
            if recreate:  # a new version may have other columns
                self.projection.metadata.drop_all(conn)
                self.projection.metadata.create_all(conn)
            else:
                self.projection.clear(conn)
            conn.execute(
                tracking_table.delete().where(tracking_table.c.name == self.projection.name)
            )
        return self._catch_up()

    def _track(self, conn: sa.Connection, old: int, new: int) -> None:
        now = datetime.now(UTC)
        updated = conn.execute(
            tracking_table.update()
            .where(tracking_table.c.name == self.projection.name)
            .where(tracking_table.c.position == old)
            .values(position=new, version=self.projection.version, updated_at=now)
        )
        if updated.rowcount == 1:
            return
        if old != 0:
            # Another runner moved the position: roll back rather than apply twice.
            raise RuntimeError(f"projection {self.projection.name} was advanced concurrently")
        conn.execute(
            tracking_table.insert().values(
                name=self.projection.name,
                position=new,
                version=self.projection.version,
                updated_at=now,
            )
        )

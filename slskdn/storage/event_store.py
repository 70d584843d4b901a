"""The event store: one eventsourcing application holding every aggregate's events.

Writes go through :class:`slskdn.actors.writer.EventWriter` (group commit), which hands
its batches to :meth:`EventStore.save`; this module opens the store, writes those batches
in eventsourcing's format (cheaply: the writer's CPU bounds the append rate), reads
aggregates and notifications, and maps failures to :class:`StoreUnavailable` with a message
a person can act on.
"""

from __future__ import annotations

from _json import encode_basestring, make_encoder
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Notification,
    Transcoder,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from slskdn.domain.job import Job
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer
from slskdn.storage.database import DatabaseLocation, StoreUnavailable

AGGREGATE_TYPES: dict[str, type[Any]] = {"job": Job, "transfer": Transfer, "peer": Peer}


class FastJSONTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder, byte for byte, with the C encoder built once.

    ``JSONEncoder.encode`` builds a new C encoder (and a closure) on every call; for a
    dozen fields that set-up is about a third of the encoding time. Output is identical:
    same separators, ``ensure_ascii=False``, the same tagged transcodings through
    ``default``. Without circular-reference markers a cyclic value would recurse, so any
    error falls back to the stock encoder, which reports it as before.
    """

    def __init__(self) -> None:
        super().__init__()
        self._encode_c = make_encoder(
            None, self._encode_obj, encode_basestring, None, ":", ",", False, False, True
        )

    def encode(self, obj: Any) -> bytes:
        try:
            return "".join(self._encode_c(obj, 0)).encode("utf8")
        except Exception:
            return super().encode(obj)


class SlskdnEvents(Application[UUID]):
    """All aggregates of one slskdn node."""

    name = "slskdn"
    # Notification log sections of 10 make log readers do 100 queries per 1,000 events.
    log_section_size = 1000
    is_snapshotting_enabled = True

    def construct_transcoder(self) -> Transcoder:
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder


class _RowEncoder:
    """Domain event → ``(originator_id, version, topic, state)`` row of ``stored_events``.

    What ``Mapper.to_stored_event`` computes, with the same bytes, minus its per-event
    overheads: the topic and class version are looked up once per class, the timestamp is
    tagged here instead of through the encoder's Python callback, and no ``StoredEvent``
    object is built (a frozen dataclass costs a ``__setattr__`` per field).
    """

    def __init__(self, transcoder: FastJSONTranscoder) -> None:
        self._encode = transcoder.encode
        timestamps = transcoder.types.get(datetime)
        self._tag_timestamps = type(timestamps) is DatetimeAsISO
        self._time_tag = timestamps.name if timestamps is not None else ""
        self._classes: dict[type[Any], tuple[str, int]] = {}

    def rows(self, events: Sequence[Any]) -> list[tuple[Any, int, str, bytes]]:
        classes = self._classes
        encode = self._encode
        tag_timestamps = self._tag_timestamps
        time_tag = self._time_tag
        rows = []
        last_id: Any = None
        last_key: Any = None
        for event in events:
            cls = type(event)
            info = classes.get(cls)
            if info is None:
                info = classes[cls] = (get_topic(cls), getattr(cls, "class_version", 1))
            topic, class_version = info
            state = event.__dict__.copy()
            originator_id = state.pop("originator_id")
            version = state.pop("originator_version")
            if class_version > 1:
                state["class_version"] = class_version
            if tag_timestamps:
                timestamp = state.get("timestamp")
                if type(timestamp) is datetime:
                    state["timestamp"] = {"_type_": time_tag, "_data_": timestamp.isoformat()}
            # Events come in runs of one aggregate: convert its id once per run.
            if originator_id is not last_id:
                last_id = originator_id
                last_key = originator_id.hex if isinstance(originator_id, UUID) else originator_id
            rows.append((last_key, version, topic, encode(state)))
        return rows


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
        mapper = self.app.mapper
        recorder = self.app.recorder
        self._rows: _RowEncoder | None = None
        if (
            type(recorder) is SQLiteApplicationRecorder
            and isinstance(mapper.transcoder, FastJSONTranscoder)
            and mapper.compressor is None
            and mapper.cipher is None
        ):
            self._rows = _RowEncoder(mapper.transcoder)

    def save(self, events: Sequence[DomainEventProtocol[UUID]]) -> None:
        """Append events in one transaction (all or nothing).

        Neither ``app.save`` (per-aggregate protocol checks) nor ``app.events.put`` (a
        ``Recording`` and ``Notification`` per event, which nobody reads here). On SQLite
        the rows go in with one ``executemany`` into eventsourcing's own table, in its own
        format and transaction: eventsourcing inserts row by row only to learn each
        notification id, which the writer does not need. On PostgreSQL the recorder's
        ``insert_events`` keeps its table lock that orders notification ids.
        """
        if self._rows is not None:
            recorder = self.app.recorder
            assert isinstance(recorder, SQLiteApplicationRecorder)
            rows = self._rows.rows(events)
            with recorder.datastore.transaction(commit=True) as cursor:
                cursor.executemany(recorder.insert_events_statement, rows)
            return
        mapper = self.app.mapper
        self.app.recorder.insert_events([mapper.to_stored_event(e) for e in events])

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

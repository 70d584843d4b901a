"""Reading what happened: event listings, an aggregate's state at a version or time, audits.

Used by the CLI (``events``, ``replay``, ``audit``) and the HTTP API; everything here only
reads the event store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from slskdn.domain.ids import as_ulid
from slskdn.domain.transfer import Transfer
from slskdn.storage.event_store import EventStore

_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}


class HistoryError(ValueError):
    """A request about history that cannot be answered (unknown id, version past the end)."""


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; naive times are UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError(
            f"{text!r} is not a time (use ISO 8601, e.g. 2026-11-21 or 2026-11-21T10:30:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def event_type(event: Any) -> str:
    """'Job.Started', 'Transfer.RangeReceived', … (the event's qualified class name)."""
    return type(event).__qualname__


def event_record(event: Any, position: int | None = None) -> dict[str, Any]:
    fields = {
        f.name: _plain(getattr(event, f.name))
        for f in dataclasses.fields(event)
        if f.name not in _BASE_FIELDS
    }
    record: dict[str, Any] = {
        "position": position,
        "time": event.timestamp.isoformat(),
        "aggregate_id": str(event.originator_id),
        "version": event.originator_version,
        "type": event_type(event),
        "data": fields,
    }
    return record


def iter_events(
    store: EventStore,
    aggregate_id: UUID | None = None,
    type_name: str | None = None,
    since: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Events in log order, filtered. ``type_name`` matches 'Job.Started' or 'Started'."""

    def wanted(event: Any) -> bool:
        name = event_type(event)
        if type_name and name != type_name and name.rsplit(".", 1)[-1] != type_name:
            return False
        return not (since and event.timestamp < since)

    if aggregate_id is not None:
        for event in store.events_of(aggregate_id):
            if wanted(event):
                yield event_record(event)
        return
    position = 0
    while True:
        batch = store.notifications(position + 1, 5000)
        if not batch:
            return
        for notification in batch:
            event = store.decode(notification)
            if wanted(event):
                yield event_record(event, notification.id)
        position = batch[-1].id


def replay(
    store: EventStore, aggregate_id: UUID, version: int | None = None, at: datetime | None = None
) -> dict[str, Any]:
    """The aggregate's state as it was at ``version`` or at time ``at`` (latest if neither)."""
    events = store.events_of(aggregate_id)
    if not events:
        raise HistoryError(f"no aggregate with id {aggregate_id}")
    last = events[-1].originator_version
    if version is not None:
        if version < 1 or version > last:
            raise HistoryError(f"version {version} is out of range: {aggregate_id} has 1..{last}")
    elif at is not None:
        before = [e for e in events if e.timestamp <= at]
        if not before:
            raise HistoryError(f"{aggregate_id} did not exist yet at {at.isoformat()}")
        version = before[-1].originator_version
    aggregate = store.get(aggregate_id, version=version)
    return state_record(aggregate, latest_version=last)


def state_record(aggregate: Any, latest_version: int | None = None) -> dict[str, Any]:
    state = {
        name: _plain(value) for name, value in vars(aggregate).items() if not name.startswith("_")
    }
    return {
        "aggregate_id": str(aggregate.id),
        "type": type(aggregate).__name__,
        "version": aggregate.version,
        "latest_version": latest_version,
        "created_on": aggregate.created_on.isoformat(),
        "modified_on": aggregate.modified_on.isoformat(),
        "state": state,
    }


def job_audit(store: EventStore, job_id: UUID) -> dict[str, Any]:
    """A job's history with its transfers' events, in time order."""
    job_events = store.events_of(job_id)
    if not job_events:
        raise HistoryError(f"no job with id {job_id}")
    if not event_type(job_events[0]).startswith("Job."):
        raise HistoryError(f"{job_id} is a {event_type(job_events[0]).split('.')[0]}, not a job")
    transfer_ids = _transfers_of(store, job_id)
    events = list(job_events)
    for transfer_id in transfer_ids:
        events.extend(store.events_of(transfer_id))
    events.sort(key=lambda e: (e.timestamp, str(e.originator_id), e.originator_version))
    job = store.get(job_id)
    return {
        "job_id": str(job_id),
        "ulid": as_ulid(job_id),
        "kind": str(job.kind),
        "target": job.target,
        "status": str(job.status),
        "transfers": [str(t) for t in transfer_ids],
        "events": [event_record(e) for e in events],
    }


def transfer_audit(store: EventStore, transfer_id: UUID) -> dict[str, Any]:
    """A transfer's history: every range event, rebalance and verdict, in order."""
    events = store.events_of(transfer_id)
    if not events:
        raise HistoryError(f"no transfer with id {transfer_id}")
    if not event_type(events[0]).startswith("Transfer."):
        raise HistoryError(
            f"{transfer_id} is a {event_type(events[0]).split('.')[0]}, not a transfer"
        )
    transfer = store.get(transfer_id)
    return {
        "transfer_id": str(transfer_id),
        "filename": transfer.filename,
        "size_bytes": transfer.size_bytes,
        "status": str(transfer.status),
        "bytes_by_peer": dict(transfer.bytes_by_peer),
        "sources": {p: s.get("username", "") for p, s in transfer.sources.items()},
        "events": [event_record(e) for e in events],
    }


def describe(record: dict[str, Any]) -> str:
    """One readable line for an event record."""
    data = record["data"]
    parts = [f"{k}={v}" for k, v in data.items() if v not in (None, "", 0, [], {})]
    return " ".join(parts)


def _transfers_of(store: EventStore, job_id: UUID) -> list[UUID]:
    topic = get_topic(Transfer.Created)
    found: list[UUID] = []
    position = 0
    while True:
        batch = store.notifications(position + 1, 5000, topics=[topic])
        if not batch:
            return found
        for notification in batch:
            event = store.decode(notification)
            if event.job_id == job_id:
                found.append(event.originator_id)
        position = batch[-1].id


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value

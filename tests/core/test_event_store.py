"""The event store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from slskdn.domain.ids import new_id, peer_id
from slskdn.domain.job import Job
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer
from slskdn.storage.database import DatabaseLocation, StoreUnavailable
from slskdn.storage.event_store import EventStore, FastJSONTranscoder

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str):
    opened = EventStore(DatabaseLocation(database_url))
    yield opened
    opened.close()


def test_saved_events_rebuild_the_aggregate(store: EventStore) -> None:
    job = Job.create(id=new_id(AT), kind="release", target="mbid", at=AT)
    job.start(AT)
    job.add_track(AT, "rec-1")
    store.save(job.collect_events())
    again = store.get(job.id)
    assert (again.status, again.version, again.tracks[0]["recording_id"]) == (
        "running",
        3,
        "rec-1",
    )


def test_notifications_come_in_commit_order_and_filter_by_topic(store: EventStore) -> None:
    jobs = [Job.create(id=new_id(AT), kind="track", target=str(i), at=AT) for i in range(3)]
    for job in jobs:
        job.start(AT)
    store.save([e for job in jobs for e in job.collect_events()])
    notes = store.notifications(1, 100)
    assert [n.id for n in notes] == sorted(n.id for n in notes)
    assert len(notes) == 6
    started = store.notifications(1, 100, topics=[get_topic(Job.Started)])
    assert [store.decode(n).originator_id for n in started] == [j.id for j in jobs]


def test_a_batch_with_a_version_conflict_writes_nothing(store: EventStore) -> None:
    job = Job.create(id=new_id(AT), kind="release", target="x", at=AT)
    store.save(job.collect_events())
    other = Job.create(id=new_id(AT), kind="release", target="y", at=AT)
    stale = store.get(job.id)
    stale.start(AT)
    job.start(AT)
    store.save(job.collect_events())
    with pytest.raises(Exception):  # noqa: B017 - the backends raise different types
        store.save([*other.collect_events(), *stale.collect_events()])
    assert store.find(other.id) is None


@pytest.mark.parametrize("version", [1, 2])
def test_an_old_event_version_is_upcast_on_read(store: EventStore, version: int) -> None:
    """Job.Created v1 had no ``origin`` (stored v1 events load as from the CLI), v2 no
    ``options`` (they load with none: the request's defaults)."""
    job_id = new_id(AT)
    state = {
        "originator_topic": get_topic(Job),
        "timestamp": {"_type_": "datetime_iso", "_data_": AT.isoformat()},
        "kind": "release",
        "target": "mbid",
        "title": "",
    }
    if version == 2:
        state.update(origin="api", class_version=2)
    store.app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=job_id,
                originator_version=1,
                topic=get_topic(Job.Created),
                state=json.dumps(state).encode(),
            )
        ]
    )
    job = store.get(job_id)
    assert job.origin == ("cli" if version == 1 else "api")
    assert job.target == "mbid"
    assert job.options == {}


def test_a_jobs_options_are_stored_with_it(store: EventStore) -> None:
    options = {"multi_source": False, "window": 12.5, "play": True}
    job = Job.create(id=new_id(AT), kind="track", target="query:x", at=AT, options=options)
    store.save(job.collect_events())
    assert store.get(job.id).options == options


def test_a_transfer_snapshot_from_before_v2_is_upcast_on_read(store: EventStore) -> None:
    """Transfer v1 snapshots had neither ``resumes`` nor ``queued``: they still load and
    take the events that need them."""
    transfer = Transfer.create(id=new_id(AT), at=AT, filename="a.flac", size_bytes=1000)
    peer = str(peer_id("someone", "soulseek"))
    transfer.add_sources(AT, [{"peer_id": peer, "kind": "soulseek"}])
    store.save(transfer.collect_events())
    old = Transfer.Snapshot.take(transfer)
    state = {k: v for k, v in old.state.items()
             if k not in ("resumes", "queued", "class_version")}  # fmt: skip
    object.__setattr__(old, "state", state)
    store.save_snapshots([old])
    again = store.get(transfer.id)
    again.resume(AT, kept_bytes=0, reason="restart")
    again.report_queued(AT, peer, place=3)
    assert (again.resumes, again.queued) == (1, {peer: 3})


def test_stored_rows_are_byte_for_byte_what_eventsourcing_would_store(store: EventStore) -> None:
    """The fast write path must not change the stored format that old logs and readers use."""
    job = Job.create(id=new_id(AT), kind="release", target="mbid", at=AT)  # class_version 3
    job.start(AT)
    transfer = Transfer.create(
        id=new_id(AT), at=AT, filename="ü €.flac", size_bytes=1 << 40, job_id=job.id
    )
    source = str(peer_id("alice"))
    transfer.add_sources(AT, [{"peer_id": source, "username": "alice", "kind": "soulseek"}])
    transfer.receive_range(AT, peer_id=source, offset=0, length=1 << 20, duration_ms=7)
    transfer.rebalance(AT, "stall", [{"from": source, "at": AT, "id": job.id, "x": 1.5}])
    peer = Peer.create(id=peer_id("alice"), at=AT, username="alice", source_kind="soulseek")
    peer.record_range_served(AT, bytes=1 << 20, duration_ms=7, transfer_id=transfer.id)
    peer.record_rtt(AT, 12.25)
    events = [e for a in (job, transfer, peer) for e in a.collect_events()]
    store.save(events)

    stock = JSONTranscoder()
    Application().register_transcodings(stock)
    expected = [Mapper(transcoder=stock).to_stored_event(e) for e in events]
    stored = [s for a in (job, transfer, peer) for s in store.app.recorder.select_events(a.id)]
    assert [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored] == [
        (e.originator_id, e.originator_version, e.topic, e.state) for e in expected
    ]
    assert [n.id for n in store.notifications(1, 100)] == list(range(1, len(events) + 1))
    assert store.get(transfer.id).bytes_received == 1 << 20


def test_the_fast_transcoder_fails_like_the_stock_one() -> None:
    fast = FastJSONTranscoder()
    with pytest.raises(TypeError, match="not serializable"):
        fast.encode({"x": object()})
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular reference"):
        fast.encode({"x": cyclic})


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "slskdn.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match=f"{re.escape(str(path))}.*not a database"):
        EventStore(DatabaseLocation(f"sqlite:///{path}"))
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_an_unrelated_sqlite_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "music.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE albums (id INTEGER)")
    with pytest.raises(StoreUnavailable, match=r"something else.*albums"):
        EventStore(DatabaseLocation(f"sqlite:///{path}"))
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"albums"}


def test_a_postgres_server_that_is_down_is_named_in_the_error() -> None:
    url = "postgresql://slskdn:secret@127.0.0.1:9/slskdn"
    with pytest.raises(StoreUnavailable) as raised:
        EventStore(DatabaseLocation(url))
    message = str(raised.value)
    assert "127.0.0.1:9" in message
    assert "secret" not in message

"""Projections: rebuild == incremental on random histories; position and rows move together."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slskdn.domain.errors import DomainError
from slskdn.domain.ids import new_id, peer_id
from slskdn.domain.job import Job
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer
from slskdn.projections.activity import ActivityProjection, rows
from slskdn.projections.framework import ProjectionRunner
from slskdn.storage.database import DatabaseLocation
from slskdn.storage.event_store import EventStore

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PEERS = ["alice", "bob", "carol"]


@pytest.fixture
def db(database_url: str) -> Iterator[tuple[EventStore, sa.Engine]]:
    location = DatabaseLocation(database_url)
    store = EventStore(location)
    engine = location.create_engine()
    yield store, engine
    engine.dispose()
    store.close()


class History:
    """Drives real aggregates with random commands; unsaved events wait for a commit."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.jobs: list[Job] = []
        self.transfers: list[Transfer] = []
        self.peers: dict[str, Peer] = {}
        # Peer ids derive from names; examples share one database, so names are unique.
        suffix = uuid.uuid4().hex[:8]
        self.names = [f"{name}-{suffix}" for name in PEERS]

    def step(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        try:
            if kind == "job":
                self.jobs.append(Job.create(id=new_id(AT), kind="release", target="t", at=AT))
            elif kind == "job_cmd" and self.jobs:
                job = self.jobs[op[1] % len(self.jobs)]
                {"start": job.start, "complete": job.complete}.get(
                    op[2], lambda at: job.add_track(at, "rec")
                )(AT)
            elif kind == "transfer":
                job_id = self.jobs[op[1] % len(self.jobs)].id if self.jobs else None
                transfer = Transfer.create(
                    id=new_id(AT), at=AT, filename="f", size_bytes=10_000, job_id=job_id
                )
                transfer.add_sources(
                    AT,
                    [
                        {"peer_id": str(peer_id(p)), "username": p, "kind": "soulseek"}
                        for p in self.names
                    ],
                )
                self.transfers.append(transfer)
            elif kind == "range" and self.transfers:
                transfer = self.transfers[op[1] % len(self.transfers)]
                pid = str(peer_id(self.names[op[2]]))
                if op[3] == "received":
                    transfer.receive_range(AT, pid, 0, op[4], duration_ms=5)
                else:
                    transfer.fail_range(AT, pid, 0, "E", "peer closed")
            elif kind == "peer":
                name = self.names[op[1]]
                peer = self.peers.get(name)
                if peer is None:
                    peer = self.peers[name] = Peer.create(
                        id=peer_id(name), at=AT, username=name, source_kind="soulseek"
                    )
                if op[2] == "served":
                    peer.record_range_served(AT, bytes=op[3], duration_ms=3)
                elif op[2] == "timeout":
                    peer.record_timeout(AT, waited_ms=100)
                else:
                    peer.record_corrupt(AT, offset=0, length=op[3])
        except DomainError:
            pass

    def commit(self) -> None:
        aggregates: Sequence[Any] = [*self.jobs, *self.transfers, *self.peers.values()]
        events = [e for a in aggregates for e in a.collect_events()]
        if events:
            self.store.save(events)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("job")),
        st.tuples(
            st.just("job_cmd"), st.integers(0, 9), st.sampled_from(["start", "track", "complete"])
        ),
        st.tuples(st.just("transfer"), st.integers(0, 9)),
        st.tuples(
            st.just("range"),
            st.integers(0, 9),
            st.integers(0, 2),
            st.sampled_from(["received", "failed"]),
            st.integers(1, 10_000),
        ),
        st.tuples(
            st.just("peer"),
            st.integers(0, 2),
            st.sampled_from(["served", "timeout", "corrupt"]),
            st.integers(1, 1000),
        ),
        st.tuples(st.just("commit")),
        st.tuples(st.just("catch_up")),
    ),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations, batch_size=st.integers(1, 7))
def test_rebuild_equals_incremental_on_random_histories(
    db: tuple[EventStore, sa.Engine], ops: list[tuple[Any, ...]], batch_size: int
) -> None:
    store, engine = db
    runner = ProjectionRunner(store, engine, ActivityProjection(), batch_size=batch_size)
    history = History(store)
    for op in ops:
        if op[0] == "commit":
            history.commit()
        elif op[0] == "catch_up":
            runner.catch_up()
        else:
            history.step(op)
    history.commit()
    runner.catch_up()
    with engine.connect() as conn:
        incremental = rows(conn)
    assert runner.status().lag == 0
    runner.rebuild()
    with engine.connect() as conn:
        assert rows(conn) == incremental


class FailingProjection(ActivityProjection):
    """Dies on the second batch, like a process killed mid-way."""

    def __init__(self) -> None:
        self.calls = 0

    def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
        super().apply(conn, events)
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("killed")


def test_a_batch_that_fails_leaves_neither_rows_nor_position(
    db: tuple[EventStore, sa.Engine],
) -> None:
    store, engine = db
    history = History(store)
    history.step(("peer", 0, "served", 100))
    for _ in range(9):
        history.step(("peer", 0, "served", 100))
    history.commit()
    failing = ProjectionRunner(store, engine, FailingProjection(), batch_size=4)
    with pytest.raises(RuntimeError, match="killed"):
        failing.catch_up()
    assert failing.position()[0] == 4
    with engine.connect() as conn:
        assert rows(conn)["peers"][0]["ranges_served"] == 3  # created + 3 served in batch 1
    ProjectionRunner(store, engine, ActivityProjection(), batch_size=4).catch_up()
    with engine.connect() as conn:
        assert rows(conn)["peers"][0]["ranges_served"] == 10
        assert rows(conn)["peers"][0]["bytes_served"] == 1000


def test_a_new_projection_version_triggers_a_rebuild(db: tuple[EventStore, sa.Engine]) -> None:
    store, engine = db
    history = History(store)
    history.step(("peer", 1, "timeout", 1))
    history.commit()
    ProjectionRunner(store, engine, ActivityProjection()).catch_up()

    class ActivityV2(ActivityProjection):
        version = 2

    runner = ProjectionRunner(store, engine, ActivityV2())
    assert runner.status().needs_rebuild
    assert runner.catch_up() == 2
    assert not runner.status().needs_rebuild


def test_a_new_version_with_other_columns_gets_its_tables_recreated(
    db: tuple[EventStore, sa.Engine],
) -> None:
    store, engine = db
    history = History(store)
    history.step(("peer", 1, "timeout", 1))
    history.commit()
    old_tables = sa.MetaData()
    sa.Table("proj_peer_activity", old_tables,
             sa.Column("peer_id", sa.String(36), primary_key=True))

    class OldActivity(ActivityProjection):
        version = 0
        metadata = old_tables

        def apply(self, conn: sa.Connection, events: Sequence[Any]) -> None:
            pass

    with engine.begin() as conn:  # the old layout, as an earlier release left it
        for table in reversed(ActivityProjection.metadata.sorted_tables):
            table.drop(conn, checkfirst=True)
    ProjectionRunner(store, engine, OldActivity()).catch_up()
    runner = ProjectionRunner(store, engine, ActivityProjection())
    assert runner.catch_up() > 0  # would fail on the old table's missing columns
    with engine.connect() as conn:
        assert rows(conn)["peers"][0]["timeouts"] == 1

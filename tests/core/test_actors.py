"""Aggregate actors: acknowledged = durable, group commit, passivation, supervision."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import pytest

from slskdn.actors.aggregate_actor import ActorCrashed, AggregateNotFound, take_snapshot
from slskdn.actors.loop import LoopThread
from slskdn.actors.system import ActorSystem
from slskdn.actors.writer import EventWriter
from slskdn.config import ActorSettings, Settings
from slskdn.domain.errors import InvalidTransition
from slskdn.domain.ids import new_id
from slskdn.domain.job import Job
from slskdn.storage.database import DatabaseLocation
from slskdn.storage.event_store import EventStore


@pytest.fixture
def parts(settings: Settings, clock: Any) -> Iterator[tuple[EventStore, EventWriter, ActorSystem]]:
    location = DatabaseLocation(settings.database_url)
    store = EventStore(location)
    writer = EventWriter(store)
    system = ActorSystem(
        store, writer, clock, ActorSettings(passivate_after_s=60, snapshot_every_events=20)
    )
    yield store, writer, system
    system.stop()
    writer.stop()
    store.close()


def create_job(system: ActorSystem, clock: Any, target: str = "mbid") -> tuple[Any, Future[int]]:
    job_id = new_id(clock())
    future = system.command(
        job_id, None, create=lambda id, at: Job.create(id=id, at=at, kind="release", target=target)
    )
    return job_id, future


def test_a_command_is_acknowledged_only_once_its_events_are_in_the_store(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any, settings: Settings
) -> None:
    _, _, system = parts
    job_id, created = create_job(system, clock)
    assert created.result(timeout=10) == 1
    assert system.command(job_id, Job.start).result(timeout=10) == 2
    # A second connection sees the acknowledged events: they are committed, not cached.
    reader = EventStore(DatabaseLocation(settings.database_url))
    try:
        assert reader.get(job_id).status == "running"
    finally:
        reader.close()


def test_many_concurrent_commands_share_transactions(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any
) -> None:
    store, writer, system = parts
    jobs = [create_job(system, clock, str(i)) for i in range(20)]
    for _, created in jobs:
        created.result(timeout=10)
    futures = [
        system.command(job_id, Job.add_track, recording_id=f"rec-{n}")
        for n in range(25)
        for job_id, _ in jobs
    ]
    assert all(f.result(timeout=30) > 1 for f in futures)
    assert writer.committed_events == 20 + 20 * 25
    # Group commit: far fewer transactions than commands (a loaded machine batches less).
    assert writer.transactions < writer.committed_events / 2
    assert all(len(store.get(job_id).tracks) == 25 for job_id, _ in jobs)


def test_a_refused_command_returns_the_reason_and_writes_nothing(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any
) -> None:
    store, _, system = parts
    job_id, created = create_job(system, clock)
    created.result(timeout=10)
    system.command(job_id, Job.cancel, reason="no").result(timeout=10)
    with pytest.raises(InvalidTransition, match="cancelled"):
        system.command(job_id, Job.start).result(timeout=10)
    assert store.get(job_id).version == 2


def test_a_command_to_a_missing_aggregate_is_refused(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any
) -> None:
    _, _, system = parts
    with pytest.raises(AggregateNotFound):
        system.command(new_id(clock()), Job.start).result(timeout=10)


def test_an_idle_actor_is_passivated_and_rebuilt_from_the_log(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any
) -> None:
    _, _, system = parts
    job_id, created = create_job(system, clock)
    created.result(timeout=10)
    for n in range(30):
        system.command(job_id, Job.add_track, recording_id=f"rec-{n}")
    system.flush()
    assert system.passivate_idle(now=10**9) == 1
    assert system.live_actors() == 0
    assert system.command(job_id, Job.start).result(timeout=10) == 32
    assert system.query(job_id, lambda job: len(job.tracks)).result(timeout=10) == 30


def test_long_histories_are_snapshotted(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any
) -> None:
    store, _, system = parts
    job_id, created = create_job(system, clock)
    created.result(timeout=10)
    futures = [system.command(job_id, Job.add_track, recording_id=str(n)) for n in range(45)]
    futures[-1].result(timeout=10)
    assert store.app.snapshots is not None
    snapshots = list(store.app.snapshots.get(job_id))
    assert snapshots and snapshots[-1].originator_version >= 20


def test_a_crashed_actor_is_restarted_from_its_events_and_keeps_its_inbox(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any
) -> None:
    store, _, system = parts
    job_id, created = create_job(system, clock)
    created.result(timeout=10)
    release = threading.Event()

    def half_applied_bug(job: Job, at: datetime) -> None:
        release.wait(10)
        job.tracks.append({"corrupted": True})  # state changed, no event: must be thrown away
        raise RuntimeError("bug in a command")

    crashed = system.command(job_id, half_applied_bug)
    queued = [system.command(job_id, Job.add_track, recording_id=f"r{n}") for n in range(5)]
    release.set()
    with pytest.raises(ActorCrashed, match="bug in a command"):
        crashed.result(timeout=10)
    assert [f.result(timeout=10) for f in queued] == [2, 3, 4, 5, 6]
    assert system.restarts == 1
    tracks = system.query(job_id, lambda job: job.tracks).result(timeout=10)
    assert [t.get("recording_id") for t in tracks] == ["r0", "r1", "r2", "r3", "r4"]
    assert store.get(job_id).version == 6


def test_the_loop_thread_awaits_actor_replies_without_blocking(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any
) -> None:
    _, _, system = parts
    loop = LoopThread().start()
    try:

        async def create_and_start() -> int:
            job_id, created = create_job(system, clock)
            await asyncio.wrap_future(created)
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            ticker = asyncio.ensure_future(tick())
            version = await asyncio.wrap_future(system.command(job_id, Job.start))
            ticker.cancel()
            assert ticks > 0  # the loop kept running while the actor worked
            return version

        assert loop.submit(create_and_start()).result(timeout=10) == 2
    finally:
        loop.stop()
    assert not loop.running


def test_told_commands_are_durable_after_a_flush_and_refusals_are_logged(
    parts: tuple[EventStore, EventWriter, ActorSystem], clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store, _, system = parts
    job_id, created = create_job(system, clock)
    created.result(timeout=10)
    for n in range(50):
        system.tell(job_id, Job.add_track, recording_id=f"rec-{n}")
    system.tell(job_id, Job.complete)  # refused: the job never started
    system.flush([job_id])
    assert len(store.get(job_id).tracks) == 50
    assert any("command refused" in r.getMessage() or "command refused" in str(r.msg)
               for r in caplog.records)  # fmt: skip


def test_a_snapshot_keeps_the_state_it_was_taken_at(clock: Any) -> None:
    """The writer encodes a snapshot later, on its own thread, while the actor goes on
    mutating the aggregate: the snapshot must not see those changes."""
    job = Job.create(id=new_id(clock()), at=clock(), kind="release", target="mbid")
    job.start(clock())
    job.add_track(clock(), "rec-1")
    snapshot = take_snapshot(job)
    job.add_track(clock(), "rec-2")
    restored = snapshot.mutate(None)
    assert [t["recording_id"] for t in restored.tracks] == ["rec-1"]
    assert restored.version == 3

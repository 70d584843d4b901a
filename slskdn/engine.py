"""The embeddable engine: event store, group-commit writer, actors, I/O loop, projections.

    from slskdn.engine import Engine
    from slskdn.config import load_settings

    with Engine(load_settings()) as engine:
        job_id = engine.create_job("release", "<release-mbid>").result()

``start()`` / ``stop()`` do the same without a ``with`` block. All threads the engine starts
are stopped by ``stop()``; pykka actor threads are not daemons, so always stop the engine
(the context manager does) or the host process will not exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from slskdn.actors.loop import LoopThread
from slskdn.actors.system import ActorSystem
from slskdn.actors.writer import EventWriter
from slskdn.config import Settings
from slskdn.domain.ids import new_id, peer_id
from slskdn.domain.job import Job
from slskdn.domain.peer import Peer
from slskdn.logs import get_logger
from slskdn.projections.framework import ProjectionRunner
from slskdn.projections.registry import all_projections
from slskdn.storage.database import DatabaseLocation
from slskdn.storage.event_store import EventStore

log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


FOLLOW_INTERVAL_S = 0.25  # how stale read models may be while the engine runs


class Engine:
    """slskdn's runtime, for the daemon, the CLI and other Python processes."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        follow_projections: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._follow = follow_projections
        self.store: EventStore | None = None
        self.writer: EventWriter | None = None
        self.actors: ActorSystem | None = None
        self.loop: LoopThread | None = None
        self.projections: dict[str, ProjectionRunner] = {}
        self._committed = threading.Event()
        self._stop_following = threading.Event()
        self._follower: threading.Thread | None = None

    @property
    def location(self) -> DatabaseLocation:
        return DatabaseLocation(self.settings.database_url, self.settings.database.lock_timeout_s)

    def start(self) -> Engine:
        self.store = EventStore(self.location)
        self.writer = EventWriter(self.store, on_commit=lambda _n: self._committed.set())
        self.actors = ActorSystem(self.store, self.writer, self.clock, self.settings.actors)
        self.loop = LoopThread().start()
        if self._follow:
            engine = self.location.create_engine()
            self.projections = {
                name: ProjectionRunner(self.store, engine, projection)
                for name, projection in all_projections(self.settings).items()
            }
            self._follower = threading.Thread(
                target=self._follow_log, name="slskdn-projections", daemon=True
            )
            self._follower.start()
        log.debug("engine started", database=self.location.display())
        return self

    def stop(self) -> None:
        """Commit what actors hold, stop every thread, close the store. Idempotent."""
        if self.actors is not None:
            self.actors.stop()
            self.actors = None
        if self.writer is not None:
            self.writer.stop()
            self.writer = None
        if self._follower is not None:
            self._stop_following.set()
            self._committed.set()
            self._follower.join(timeout=30)
            self._follower = None
            self._catch_up_projections()
        if self.loop is not None:
            self.loop.stop()
            self.loop = None
        if self.store is not None:
            self.store.close()
            self.store = None
        log.debug("engine stopped")

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- commands -----------------------------------------------------------

    def _system(self) -> ActorSystem:
        if self.actors is None:
            raise RuntimeError("the engine is not started")
        return self.actors

    def create_job(
        self, kind: str, target: str, title: str = "", origin: str = "cli",
        options: dict[str, Any] | None = None,
    ) -> Future[UUID]:
        """Create a job; the future gives its id once the creation is durable. ``options``:
        how the request asked for its target, so it can be asked again the same way."""
        job_id = new_id(self.clock())
        created = self._system().command(
            job_id,
            None,
            create=lambda id, at: Job.create(
                id=id, at=at, kind=kind, target=target, title=title, origin=origin,
                options=options,
            ),
        )
        return _map_future(created, lambda _version: job_id)

    def command(self, aggregate_id: UUID, method: Callable[..., Any], **kwargs: Any) -> Future[int]:
        return self._system().command(aggregate_id, method, **kwargs)

    def observe_peer(
        self,
        username: str,
        method: Callable[..., Any],
        source_kind: str = "soulseek",
        **kwargs: Any,
    ) -> Future[int]:
        """Record an observation of a peer, creating the peer on first sight."""
        return self._system().command(
            peer_id(username, source_kind),
            method,
            create=lambda id, at: Peer.create(
                id=id, at=at, username=username, source_kind=source_kind
            ),
            **kwargs,
        )

    def flush(self) -> None:
        self._system().flush()

    # -- projections --------------------------------------------------------

    def _follow_log(self) -> None:
        while not self._stop_following.is_set():
            self._committed.wait(timeout=1.0)
            self._committed.clear()
            self._catch_up_projections()
            # Let commits pile up: one catch-up per interval costs a few queries per
            # projection, where one per commit cost ~1.4 ms of CPU per event in a download.
            self._stop_following.wait(FOLLOW_INTERVAL_S)

    def _catch_up_projections(self) -> None:
        for name, runner in self.projections.items():
            try:
                runner.catch_up()
            except Exception as exc:
                log.error("projection failed to catch up", projection=name, error=repr(exc))

    def catch_up(self) -> None:
        """Bring every projection up to the head of the log now."""
        self.flush()
        self._catch_up_projections()


def _map_future(source: Future[Any], fn: Callable[[Any], Any]) -> Future[Any]:
    target: Future[Any] = Future()

    def _done(done: Future[Any]) -> None:
        error = done.exception()
        if error is not None:
            target.set_exception(error)
        else:
            target.set_result(fn(done.result()))

    source.add_done_callback(_done)
    return target

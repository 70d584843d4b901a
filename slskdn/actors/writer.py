"""Group commit: one thread appends the events of all actors, many per transaction.

SQLite and PostgreSQL both pay per transaction far more than per row, so actors hand
their new events here and go on; the writer drains its queue, saves everything in one
transaction and only then resolves the callers' futures. Events of one actor are
committed in the order submitted. If a commit fails, the batch is retried submission by
submission so that one bad aggregate does not fail the others, and later submissions of a
failed actor incarnation are refused (their versions would leave a gap in the log).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from slskdn.logs import get_logger
from slskdn.storage.event_store import EventStore

log = get_logger(__name__)


@dataclass
class Submission:
    events: Sequence[Any]
    replies: list[tuple[Future[int], int]]  # each caller's future and its version
    incarnation: int
    snapshots: Sequence[Any] = ()
    on_failed: Callable[[BaseException], None] | None = None


@dataclass
class _Barrier:
    done: Future[None] = field(default_factory=Future)


_STOP = object()


class EventWriter:
    """The single writer thread of the event store."""

    def __init__(
        self,
        store: EventStore,
        max_batch_events: int = 10_000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._max_batch = max_batch_events
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._failed: set[int] = set()
        self.committed_events = 0
        self.transactions = 0
        self._thread = threading.Thread(target=self._run, name="slskdn-event-writer", daemon=True)
        self._thread.start()

    def submit(self, submission: Submission) -> None:
        self._queue.put(submission)

    def barrier(self) -> Future[None]:
        """A future that resolves when everything submitted before it is committed."""
        marker = _Barrier()
        self._queue.put(marker)
        return marker.done

    def stop(self, timeout: float = 30.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch: list[Any] = [item]
            size = len(getattr(item, "events", ()))
            stop_after = False
            while size < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop_after = True
                    break
                batch.append(more)
                size += len(getattr(more, "events", ()))
            self._commit(batch)
            if stop_after:
                return

    def _commit(self, batch: list[Any]) -> None:
        submissions = [s for s in batch if isinstance(s, Submission)]
        refused = [s for s in submissions if s.incarnation in self._failed]
        for submission in refused:
            self._fail(submission, RuntimeError("an earlier commit of this actor failed"))
        live = [s for s in submissions if s.incarnation not in self._failed]
        events = [event for s in live for event in s.events]
        if events:
            try:
                self._store.save(events)
            except Exception as exc:
                log.warning("group commit failed; retrying one by one", error=str(exc))
                live = self._commit_one_by_one(live)
            else:
                self.transactions += 1
        for submission in live:
            self.committed_events += len(submission.events)
            if submission.snapshots:
                self._save_snapshots(submission.snapshots)
            for reply, version in submission.replies:
                if not reply.done():
                    reply.set_result(version)
        for item in batch:
            if isinstance(item, _Barrier):
                item.done.set_result(None)
        if events and self._on_commit is not None:
            self._on_commit(len(events))

    def _commit_one_by_one(self, submissions: list[Submission]) -> list[Submission]:
        saved = []
        for submission in submissions:
            if submission.incarnation in self._failed:
                self._fail(submission, RuntimeError("an earlier commit of this actor failed"))
                continue
            try:
                if submission.events:
                    self._store.save(submission.events)
                    self.transactions += 1
            except Exception as exc:
                self._fail(submission, exc)
            else:
                saved.append(submission)
        return saved

    def _fail(self, submission: Submission, exc: BaseException) -> None:
        self._failed.add(submission.incarnation)
        for reply, _version in submission.replies:
            if not reply.done():
                reply.set_exception(exc)
        if submission.on_failed is not None:
            submission.on_failed(exc)

    def _save_snapshots(self, snapshots: Sequence[Any]) -> None:
        try:
            self._store.save_snapshots(snapshots)
        except Exception as exc:
            log.warning("snapshot not saved; history replays from events", error=str(exc))

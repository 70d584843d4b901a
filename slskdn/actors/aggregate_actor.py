"""One pykka actor per aggregate instance: the single writer of that aggregate.

Message in, command on the aggregate, events handed to the group-commit writer. The
caller's future resolves only after the commit. A domain rule broken by a command is
answered with the DomainError and changes nothing; any other exception crashes the actor,
and its supervisor (the ActorSystem) rebuilds it from the event log.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol
from uuid import UUID

import pykka

from slskdn.actors.messages import Command, CommitFailed, Flush, Query
from slskdn.actors.writer import EventWriter, Submission
from slskdn.domain.errors import DomainError
from slskdn.logs import get_logger
from slskdn.storage.event_store import EventStore

log = get_logger(__name__)
_incarnations = itertools.count(1)


class AggregateNotFound(DomainError):
    """A command was sent to an aggregate that does not exist (and no create was given)."""


class ActorCrashed(RuntimeError):
    """The actor failed before the command's events were committed; nothing was applied."""


class Supervisor(Protocol):
    def actor_failed(
        self,
        aggregate_id: UUID,
        crashed: pykka.ActorRef[Any],
        error: BaseException,
        unprocessed: list[Any],
    ) -> None: ...


class AggregateActor(pykka.ThreadingActor):
    """Owns one aggregate. Runs on its own pykka thread."""

    def __init__(
        self,
        aggregate_id: UUID,
        store: EventStore,
        writer: EventWriter,
        supervisor: Supervisor,
        clock: Callable[[], datetime],
        commit_every_messages: int = 500,
        commit_every_ms: float = 20.0,
        snapshot_every_events: int = 200,
    ) -> None:
        super().__init__()
        self.aggregate_id = aggregate_id
        self._store = store
        self._writer = writer
        self._supervisor = supervisor
        self._clock = clock
        self._every_messages = commit_every_messages
        self._every_s = commit_every_ms / 1000
        self._snapshot_every = snapshot_every_events
        self._incarnation = next(_incarnations)
        self._aggregate: Any = None
        # Callers waiting for the commit, with the version after their command.
        self._replies: list[tuple[Future[int], int]] = []
        # Commands applied since the last flush, acknowledged or not.
        self._uncommitted = 0
        self._uncommitted_since = 0.0
        self._current: Future[Any] | None = None
        self._last_snapshot_version = 0
        self._log = log.bind(aggregate_id=str(aggregate_id))

    @staticmethod
    def _create_actor_inbox() -> Any:
        # The C SimpleQueue instead of queue.Queue: a third cheaper per message, and it
        # has the put/get/empty pykka uses. pykka is pinned exactly for this hook.
        return queue.SimpleQueue()

    def on_start(self) -> None:
        # A previous incarnation (crashed or passivated) may still have events with the
        # writer: they must be in the store before this one reads it.
        self._writer.barrier().result(timeout=60)
        self._aggregate = self._store.find(self.aggregate_id)
        if self._aggregate is not None:
            self._last_snapshot_version = self._aggregate.version

    def _handle_receive(self, message: Any) -> Any:
        # Commands are nearly every message: skip pykka's four proxy-message checks and
        # the on_receive dispatch for them (pykka is pinned exactly; see above).
        if type(message) is Command:
            self._current = message.reply
            self._handle_command(message)
            self._current = None
            self._flush_if_due()
            return None
        return super()._handle_receive(message)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Command):
            self._current = message.reply
            self._handle_command(message)
        elif isinstance(message, Query):
            self._current = message.reply
            message.reply.set_result(
                None if self._aggregate is None else message.read(self._aggregate)
            )
        elif isinstance(message, Flush):
            self._replies.append((message.reply, self._version()))
            self._flush()
        elif isinstance(message, CommitFailed):
            raise ActorCrashed(f"commit failed: {message.error}") from message.error
        self._current = None
        self._flush_if_due()

    def _flush_if_due(self) -> None:
        if self._uncommitted and (
            self.actor_inbox.empty()
            or self._uncommitted >= self._every_messages
            or time.monotonic() - self._uncommitted_since >= self._every_s
        ):
            self._flush()

    def _handle_command(self, command: Command) -> None:
        now = self._clock()
        created_now = False
        try:
            if self._aggregate is None:
                if command.create is None:
                    raise AggregateNotFound(f"no aggregate with id {self.aggregate_id}")
                self._aggregate = command.create(id=self.aggregate_id, at=now)
                created_now = True
            if command.method is not None:
                command.method(self._aggregate, at=now, **command.kwargs)
        except DomainError as exc:
            # Commands check their rules before they trigger events, so state is unchanged;
            # a creation in the same command is undone with it.
            if created_now:
                self._aggregate = None
            if command.reply is None:
                # Nobody waits for this command: the refusal must still be seen.
                self._log.warning(
                    "command refused", command=getattr(command.method, "__name__", "create"),
                    reason=str(exc),
                )  # fmt: skip
            else:
                command.reply.set_exception(exc)
            return
        if not self._uncommitted:
            self._uncommitted_since = time.monotonic()
        self._uncommitted += 1
        if command.reply is not None:
            self._replies.append((command.reply, self._version()))

    def _version(self) -> int:
        return 0 if self._aggregate is None else int(self._aggregate.version)

    def _flush(self) -> None:
        replies, self._replies = self._replies, []
        self._uncommitted = 0
        if self._aggregate is None:
            for reply, _version in replies:
                reply.set_result(0)
            return
        # collect_events() pops the pending list one event at a time from its front.
        pending = self._aggregate.pending_events
        events = pending.copy()
        pending.clear()
        version = self._aggregate.version
        snapshots = []
        if version - self._last_snapshot_version >= self._snapshot_every:
            snapshots.append(take_snapshot(self._aggregate))
            self._last_snapshot_version = version
        actor_ref = self.actor_ref
        self._writer.submit(
            Submission(
                events=events,
                replies=replies,
                incarnation=self._incarnation,
                snapshots=snapshots,
                on_failed=lambda exc: _tell_quietly(actor_ref, CommitFailed(exc)),
            )
        )

    def on_stop(self) -> None:
        # Passivation or shutdown: what is pending must be durable before the next
        # incarnation of this aggregate loads it from the store.
        if self._uncommitted or self._replies:
            self._flush()
        self._writer.barrier().result(timeout=60)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        error = exception_value or RuntimeError("unknown failure")
        crashed = ActorCrashed(f"actor of {self.aggregate_id} crashed: {error!r}")
        for reply in [r for r, _ in self._replies] + ([self._current] if self._current else []):
            if not reply.done():
                reply.set_exception(crashed)
        if self._uncommitted > len(self._replies):
            self._log.error(
                "uncommitted commands lost with the crash",
                unacknowledged=self._uncommitted - len(self._replies),
            )
        self._replies = []
        self._uncommitted = 0
        unprocessed = []
        while not self.actor_inbox.empty():
            envelope = self.actor_inbox.get()
            if not isinstance(envelope.message, CommitFailed):
                unprocessed.append(envelope.message)
        self._supervisor.actor_failed(self.aggregate_id, self.actor_ref, error, unprocessed)


def take_snapshot(aggregate: Any) -> Any:
    """A snapshot of the aggregate as it is now.

    eventsourcing's ``Snapshot.take`` copies the attributes shallowly, and the writer encodes
    the snapshot later on its own thread while this actor goes on appending to the same lists
    and dicts: a snapshot of version v then held later commands' state as well, and an
    aggregate loaded from it applied those events twice (a job with more tracks than it had).
    """
    snapshot = type(aggregate).Snapshot.take(aggregate)
    object.__setattr__(snapshot, "state", copy.deepcopy(snapshot.state))
    return snapshot


def _tell_quietly(ref: pykka.ActorRef[Any], message: Any) -> None:
    with contextlib.suppress(pykka.ActorDeadError):
        ref.tell(message)

"""The actor system: finds or starts the actor of an aggregate, supervises, passivates.

It is the supervisor of every aggregate actor: when one crashes it logs why, waits until
everything already submitted is committed, starts a new incarnation from the event log and
hands it the messages the crashed one had not processed. Actors idle for longer than
``passivate_after_s`` are stopped and rebuilt on their next message.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import datetime
from typing import Any
from uuid import UUID

import pykka
from pykka._envelope import Envelope

from slskdn.actors.aggregate_actor import AggregateActor
from slskdn.actors.messages import Command, Flush, Query
from slskdn.actors.writer import EventWriter
from slskdn.config import ActorSettings
from slskdn.logs import get_logger
from slskdn.storage.event_store import EventStore

log = get_logger(__name__)


class _Entry:
    """A live actor and when it was last sent a message (for passivation)."""

    __slots__ = ("inbox", "last_used", "ref", "stopped")

    def __init__(self, ref: pykka.ActorRef[Any], last_used: float) -> None:
        self.ref = ref
        self.inbox = ref.actor_inbox
        self.stopped = ref.actor_stopped
        self.last_used = last_used


class ActorSystem:
    """Routes messages to aggregate actors, one actor per aggregate id."""

    def __init__(
        self,
        store: EventStore,
        writer: EventWriter,
        clock: Callable[[], datetime],
        settings: ActorSettings | None = None,
    ) -> None:
        self._store = store
        self._writer = writer
        self._clock = clock
        self._settings = settings or ActorSettings()
        # One dict lookup per message: a UUID's hash is computed in Python.
        self._actors: dict[UUID, _Entry] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._stopped = False  # _stopping, read without a method call on every send
        self.restarts = 0
        self.passivations = 0
        self._reaper = threading.Thread(
            target=self._reap_idle, name="slskdn-passivator", daemon=True
        )
        self._reaper.start()

    # -- the public surface -------------------------------------------------

    def command(
        self,
        aggregate_id: UUID,
        method: Callable[..., Any] | None,
        create: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> Future[int]:
        """Run an aggregate method; the future gives the new version once it is durable."""
        message = Command(method=method, kwargs=kwargs, create=create)
        self._send(aggregate_id, message)
        assert message.reply is not None
        return message.reply

    def tell(
        self,
        aggregate_id: UUID,
        method: Callable[..., Any] | None,
        create: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Run an aggregate method without waiting for it.

        For producers of many events (the network layer) that acknowledge in batches:
        ``flush()`` returns once everything told before it is committed. A refused command
        is logged with its reason, since nobody waits for the answer.
        """
        self._send(aggregate_id, Command(method=method, kwargs=kwargs, create=create, reply=None))

    def query(self, aggregate_id: UUID, read: Callable[[Any], Any]) -> Future[Any]:
        message = Query(read=read)
        self._send(aggregate_id, message)
        return message.reply

    def flush(self, aggregate_ids: Iterable[UUID] | None = None, timeout: float = 60.0) -> None:
        """Wait until the pending events of these actors (default: all) are committed."""
        with self._lock:
            if aggregate_ids is None:
                refs = [entry.ref for entry in self._actors.values()]
            else:
                refs = [self._actors[i].ref for i in set(aggregate_ids) if i in self._actors]
        replies = []
        for ref in refs:
            message = Flush()
            try:
                ref.tell(message)
            except pykka.ActorDeadError:
                continue
            replies.append(message.reply)
        for reply in replies:
            reply.exception(timeout=timeout)
        self._writer.barrier().result(timeout=timeout)

    def release(self, aggregate_ids: list[UUID], timeout: float = 60.0) -> None:
        """Stop these actors now (after they commit), for aggregates written once in a while.

        A library scan touches thousands of files once each; keeping an actor (a thread)
        per file until passivation would be wasteful.
        """
        with self._lock:
            refs = [self._actors.pop(i).ref for i in aggregate_ids if i in self._actors]
        stops = []
        for ref in refs:
            with contextlib.suppress(pykka.ActorDeadError):
                stops.append(ref.stop(block=False))
        for stop in stops:
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                stop.get(timeout=timeout)

    def live_actors(self) -> int:
        with self._lock:
            return len(self._actors)

    def stop(self) -> None:
        """Stop every actor after it has committed what it holds."""
        self._stopped = True
        self._stopping.set()
        with self._lock:
            refs = [entry.ref for entry in self._actors.values()]
            self._actors.clear()
        for ref in refs:
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                ref.stop(block=True, timeout=60)
        self._reaper.join(timeout=5)

    # -- routing, supervision, passivation ----------------------------------

    def _send(self, aggregate_id: UUID, message: Any) -> None:
        if self._stopped:
            raise RuntimeError("the actor system is stopped")
        # Under the lock, so that passivation (which stops an actor while holding it) can
        # never let a message land behind an actor's stop and be dropped.
        with self._lock:
            entry = self._actors.get(aggregate_id)
            if entry is not None:
                entry.last_used = time.monotonic()
                # ActorRef.tell inlined (the hottest call of the engine): the same check
                # and the same envelope, two Python calls fewer. pykka is pinned exactly.
                if not entry.stopped.is_set():
                    entry.inbox.put(Envelope(message))
                    return
                # It crashed between lookups; start a fresh one from the log.
                del self._actors[aggregate_id]
            self._start(aggregate_id).tell(message)

    def _start(self, aggregate_id: UUID) -> pykka.ActorRef[Any]:
        s = self._settings
        ref = AggregateActor.start(
            aggregate_id,
            self._store,
            self._writer,
            self,
            self._clock,
            commit_every_messages=s.commit_every_messages,
            commit_every_ms=s.commit_every_ms,
            snapshot_every_events=s.snapshot_every_events,
        )
        self._actors[aggregate_id] = _Entry(ref, time.monotonic())
        return ref

    def actor_failed(
        self,
        aggregate_id: UUID,
        crashed: pykka.ActorRef[Any],
        error: BaseException,
        unprocessed: list[Any],
    ) -> None:
        """Called on the crashed actor's thread: restart it from the log."""
        log.error(
            "actor crashed; restarting from the event log",
            aggregate_id=str(aggregate_id),
            error=repr(error),
            requeued=len(unprocessed),
        )
        with self._lock:
            if self._stopping.is_set():
                for message in unprocessed:
                    reply = getattr(message, "reply", None)
                    if reply is not None and not reply.done():
                        reply.set_exception(RuntimeError("the actor system is stopping"))
                return
            entry = self._actors.get(aggregate_id)
            ref = entry.ref if entry is not None else None
            if ref is None or ref is crashed:
                # A message may already have started the next incarnation; otherwise start it.
                self.restarts += 1
                ref = self._start(aggregate_id)
            for message in unprocessed:
                ref.tell(message)

    def _reap_idle(self) -> None:
        interval = min(5.0, self._settings.passivate_after_s / 2)
        while not self._stopping.wait(interval):
            self.passivate_idle(time.monotonic())

    def passivate_idle(self, now: float) -> int:
        """Stop actors unused since ``passivate_after_s``; returns how many."""
        limit = self._settings.passivate_after_s
        stopped = 0
        with self._lock:
            idle = [
                aggregate_id
                for aggregate_id, entry in self._actors.items()
                if now - entry.last_used >= limit
            ]
            for aggregate_id in idle:
                ref = self._actors.pop(aggregate_id).ref
                # Blocking under the lock keeps a new incarnation from loading the
                # aggregate before this one's last events are committed.
                try:
                    ref.stop(block=True, timeout=60)
                except (pykka.ActorDeadError, pykka.Timeout):
                    continue
                stopped += 1
        self.passivations += stopped
        return stopped

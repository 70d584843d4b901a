"""The actor that runs one swarm session: transport callbacks in, decisions out, events logged.

A ``SwarmSession`` (pure, in ``domain.swarm``) holds the runtime state of one multi-source
download: the range map, per-source state, the integrity ledger. This actor owns it — only
its thread touches it — and after every call records what the session decided and observed
as Transfer and Peer events (``swarm_events``), told to their aggregate actors. Bytes never
pass through here: transports write them to the part file and report positions.

Transports call back through ``SwarmListener``: with ``tell`` from the asyncio loop (never
block it), or with ``ask`` from a simulator that must not advance until the session has
answered (lockstep: deterministic).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pykka

from slskdn.actors.swarm_events import SwarmRecorder, Write
from slskdn.actors.system import ActorSystem
from slskdn.domain.swarm.ports import BlockDigests
from slskdn.domain.swarm.session import SwarmOutcome, SwarmSession
from slskdn.domain.transfer import Transfer
from slskdn.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class SessionCall:
    """Call ``session.<name>(*args)``: on_ready, on_queued, on_progress, on_complete,
    on_failed, tick, set_play_position or start."""

    name: str
    args: tuple[Any, ...]


class SwarmDriver(pykka.ThreadingActor):
    """Drives one SwarmSession for one Transfer aggregate."""

    CALLS = frozenset(
        {
            "start",
            "tick",
            "on_ready",
            "on_queued",
            "on_progress",
            "on_complete",
            "on_failed",
            "set_play_position",
        }
    )

    def __init__(self, session: SwarmSession, recorder: SwarmRecorder, actors: ActorSystem) -> None:
        super().__init__()
        self.session = session
        self.recorder = recorder
        self.actors = actors
        self.finished: Future[SwarmOutcome] = Future()
        self._decisions_seen = 0
        self._observations_seen = 0
        self._log = log.bind(transfer_id=str(recorder.transfer_id))

    def on_receive(self, message: Any) -> Any:
        if not isinstance(message, SessionCall) or message.name not in self.CALLS:
            raise TypeError(f"not a session call: {message!r}")
        if self.session.done:
            return None
        getattr(self.session, message.name)(*message.args)
        self._record()
        return None

    def _record(self) -> None:
        writes: list[Write] = []
        for _, decision in self.session.decisions[self._decisions_seen :]:
            writes.extend(self.recorder.decision(decision))
        self._decisions_seen = len(self.session.decisions)
        for observation in self.session.observations[self._observations_seen :]:
            writes.extend(self.recorder.observation(observation))
        self._observations_seen = len(self.session.observations)
        for w in writes:
            self.actors.tell(w.aggregate_id, w.method, w.create, **w.kwargs)
        outcome = self.session.outcome
        if outcome is not None and not self.finished.done():
            tid = self.recorder.transfer_id
            if outcome.complete and outcome.sha256:
                self.actors.tell(tid, Transfer.complete, sha256=outcome.sha256)
            else:
                reason = outcome.failure or "the swarm could not complete the file"
                self.actors.tell(tid, Transfer.abort, reason=reason)
            self._log.info("swarm finished", complete=outcome.complete, verified=outcome.verified)
            self.finished.set_result(outcome)

    def on_failure(self, *exc_info: Any) -> None:
        error = exc_info[1] or RuntimeError("swarm driver failed")
        self._log.error("swarm driver crashed", error=repr(error))
        if not self.finished.done():
            self.finished.set_exception(error)


class SwarmListener:
    """The transport-facing side of a driver (``domain.swarm.ports.TransferListener``)."""

    def __init__(self, driver: pykka.ActorRef[Any], lockstep: bool = False) -> None:
        self._driver = driver
        self._send: Callable[[SessionCall], Any] = (
            (lambda call: driver.ask(call)) if lockstep else driver.tell
        )

    def call(self, name: str, *args: Any) -> None:
        self._send(SessionCall(name, args))

    def on_ready(self, source_id: str, now: float) -> None:
        self.call("on_ready", source_id, now)

    def on_queued(self, source_id: str, place: int | None, now: float) -> None:
        self.call("on_queued", source_id, place, now)

    def on_progress(self, request_id: int, position: int, blocks: BlockDigests, now: float) -> None:
        self.call("on_progress", request_id, position, tuple(blocks), now)

    def on_complete(self, request_id: int, now: float) -> None:
        self.call("on_complete", request_id, now)

    def on_failed(
        self, source_id: str, request_id: int | None, reason: str, permanent: bool, now: float
    ) -> None:
        self.call("on_failed", source_id, request_id, reason, permanent, now)

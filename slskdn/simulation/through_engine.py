"""Run a simulated scenario through the real engine: actors, event store, projections.

The simulator provides the network (virtual time, seeded); the SwarmDriver actor runs the
session exactly as it does for Soulseek peers, in lockstep with the simulator so the run is
deterministic; every decision and observation lands in the event log as Transfer and Peer
events, from which the peer-quality and transfers projections are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from slskdn.actors.swarm_driver import SessionCall, SwarmDriver, SwarmListener
from slskdn.actors.swarm_events import SourcePeer, SwarmRecorder
from slskdn.domain.ids import new_id, peer_id
from slskdn.domain.swarm.session import SessionConfig, SwarmOutcome, SwarmSession
from slskdn.domain.swarm.tracking import SourceSpec
from slskdn.domain.transfer import Transfer
from slskdn.engine import Engine

from .clock import EventLoop
from .content import MemoryPartFile, make_content, sha256
from .scenario import Scenario
from .transport import SimulatedTransport


@dataclass(frozen=True)
class EngineRun:
    transfer_id: UUID
    outcome: SwarmOutcome | None
    seconds: float  # virtual
    sha256_ok: bool
    bytes_by_source: dict[str, int]


def simulate(
    engine: Engine,
    scenario: Scenario,
    config: SessionConfig | None = None,
    *,
    username_prefix: str = "sim-",
    time_limit: float = 3600.0,
) -> EngineRun:
    """Download the scenario's file through the engine's actors; returns when it is done."""
    actors = engine.actors
    assert actors is not None
    config = config or SessionConfig()
    loop = EventLoop()
    content = make_content(scenario.file_size, scenario.seed)
    expected = sha256(content)
    part = MemoryPartFile(scenario.file_size)
    transport = SimulatedTransport(loop, scenario, content, part, config.scheduler.block_size)
    peers = {
        s.source_id: SourcePeer(
            peer_id(username_prefix + s.source_id, s.kind), username_prefix + s.source_id, s.kind
        )
        for s in scenario.sources
    }
    transfer_id = new_id(engine.clock())
    actors.command(
        transfer_id,
        Transfer.add_sources,
        create=lambda id, at: Transfer.create(
            id=id, at=at, filename=f"{scenario.name}.bin", size_bytes=scenario.file_size
        ),
        sources=[
            {"peer_id": str(p.peer_id), "username": p.username, "kind": p.kind}
            for p in peers.values()
        ],
    ).result(timeout=60)
    specs = [
        SourceSpec(s.source_id, s.kind, peer_id=str(peers[s.source_id].peer_id),
                   advertised_speed=s.advertised_speed)
        for s in scenario.sources
    ]  # fmt: skip
    session = SwarmSession(
        scenario.file_size, specs, transport, part, config,
        expected_sha256=expected if scenario.reference_known else None,
    )  # fmt: skip
    driver = SwarmDriver.start(session, SwarmRecorder(transfer_id, peers), actors)
    listener = SwarmListener(driver, lockstep=True)
    transport.listener = listener  # type: ignore[assignment]
    finished = driver.proxy().finished.get()
    interval = config.scheduler.rebalance_interval

    def tick() -> None:
        if not finished.done():
            listener.call("tick", loop.now)
            loop.call_later(interval, tick)

    try:
        driver.ask(SessionCall("start", (0.0,)))
        loop.call_later(interval, tick)
        loop.run(finished.done, time_limit)
        actors.flush([transfer_id, *(p.peer_id for p in peers.values())])
    finally:
        driver.stop()
    outcome = finished.result(timeout=0) if finished.done() else None
    served: dict[str, int] = {}
    for source_id, ranges in session.served_ranges.items():
        served[peers[source_id].username] = sum(b - a for a, b in ranges)
    return EngineRun(
        transfer_id=transfer_id,
        outcome=outcome,
        seconds=outcome.finished_at or loop.now if outcome else loop.now,
        sha256_ok=part.sha256() == expected,
        bytes_by_source=served,
    )


def describe(run: EngineRun) -> dict[str, Any]:
    o = run.outcome
    return {
        "transfer_id": str(run.transfer_id),
        "complete": bool(o and o.complete),
        "verified": bool(o and o.verified),
        "sha256_ok": run.sha256_ok,
        "virtual_seconds": round(run.seconds, 3),
        "delivered_bytes": o.delivered_bytes if o else None,
        "wasted_bytes": o.wasted_bytes if o else None,
        "convicted": dict(o.convicted) if o else {},
        "bytes_by_source": run.bytes_by_source,
    }

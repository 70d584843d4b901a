"""A Soulseek peer that answers "queued": the session knows, and stops planning on its arrival."""

from __future__ import annotations

from slskdn.domain.swarm.decisions import QueuedByPeer
from slskdn.domain.swarm.session import SessionConfig, SwarmSession
from slskdn.domain.swarm.tracking import SourceSpec
from slskdn.domain.swarm.views import build_snapshot
from slskdn.simulation.clock import EventLoop
from slskdn.simulation.content import MemoryPartFile, make_content
from slskdn.simulation.scenario import MB, Scenario, SimSource
from slskdn.simulation.transport import SimulatedTransport


def session_at(now: float, queue_delay: float) -> SwarmSession:
    scenario = Scenario("queued", 3, 10 * MB, (
        SimSource("free", rate=1 * MB, negotiation=0.3),
        SimSource("busy", rate=2 * MB, negotiation=0.3, queue_delay=queue_delay),
    ))  # fmt: skip
    loop = EventLoop()
    part = MemoryPartFile(scenario.file_size)
    config = SessionConfig()
    transport = SimulatedTransport(loop, scenario, make_content(scenario.file_size, 3), part,
                                   config.scheduler.block_size)
    session = SwarmSession(scenario.file_size, [SourceSpec(s.source_id, s.kind)
                                                for s in scenario.sources],
                           transport, part, config)  # fmt: skip
    transport.listener = session
    session.start(0.0)
    loop.run(lambda: False, now)  # every event up to ``now``
    return session


def test_a_queued_source_is_marked_and_not_counted_on_to_arrive() -> None:
    session = session_at(1.0, queue_delay=20.0)
    busy = session.sources["busy"]
    assert busy.state == "queued"
    assert any(isinstance(o, QueuedByPeer) and o.peer_id == busy.spec.peer
               for o in session.observations)  # fmt: skip
    view = {v.source_id: v for v in build_snapshot(session, 1.0).sources}
    assert view["busy"].ready_at is None  # its wait is someone else's upload: unknown


def test_a_source_still_negotiating_is_expected_soon() -> None:
    session = session_at(0.2, queue_delay=0.0)
    assert session.sources["busy"].state == "negotiating"
    view = {v.source_id: v for v in build_snapshot(session, 0.2).sources}
    assert view["busy"].ready_at is not None

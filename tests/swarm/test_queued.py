"""A Soulseek peer that answers "queued": the session knows, and stops planning on its arrival."""

from __future__ import annotations

from slskdn.domain.swarm.decisions import Cancel, QueuedByPeer
from slskdn.domain.swarm.session import SessionConfig, SwarmSession
from slskdn.domain.swarm.tracking import SourceSpec
from slskdn.domain.swarm.views import build_snapshot, negotiation_estimate
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


def test_asking_a_peer_again_is_not_priced_at_its_queue_wait() -> None:
    # "busy" waited 6 s in the peer's queue the first time; that was someone else's upload
    # ending. Priced at 6 s, asking it again looked dearer than anything left to take, so
    # the fast peer idled while the slow one finished (simulator seed 1000148: 0.81 -> 0.95).
    session = session_at(6.6, queue_delay=6.0)
    busy = session.sources["busy"]
    assert busy.state == "streaming" and busy.queue_waits == [True]
    assert busy.negotiation_times[0] > 6.0
    metrics = session.metrics.get(busy.spec.peer)
    again = negotiation_estimate(session, busy, metrics)
    free = session.sources["free"].negotiation_times[0]
    assert again == free < 1.0


def test_a_peer_with_no_handshake_measured_is_priced_at_the_default() -> None:
    session = session_at(6.6, queue_delay=6.0)
    session.sources["free"].queue_waits[0] = True  # as if both had queued
    busy = session.sources["busy"]
    again = negotiation_estimate(session, busy, session.metrics.get(busy.spec.peer))
    assert again == session.config.default_negotiation_s


def test_a_cancel_with_a_back_off_says_so_in_the_log() -> None:
    # The loser of a race against a stalled source is backed off; its logged Cancel used to
    # say backoff=False all the same, so the audit trail contradicted what the session did.
    session = session_at(0.5, queue_delay=0.0)
    t = next(iter(session.transfers.values()))
    session._cancel(t, 0.5, "lost the race to someone", backoff=True)
    at, logged = session.decisions[-1]
    assert isinstance(logged, Cancel) and logged.backoff and at == 0.5
    assert session.sources[t.source_id].backoff_until == 0.5 + session.config.failure_backoff_s

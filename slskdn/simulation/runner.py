"""Run a swarm session against a simulated scenario and measure what happened."""

from __future__ import annotations

from dataclasses import dataclass, replace

from slskdn.audio.frame_check import FlacFrameCheck
from slskdn.domain.swarm.decisions import Decision, RangeServed
from slskdn.domain.swarm.resume import ResumeState
from slskdn.domain.swarm.session import SessionConfig, SwarmOutcome, SwarmSession
from slskdn.domain.swarm.tracking import SourceSpec

from .breakdown import Breakdown, analyse, attach
from .clock import EventLoop
from .content import MemoryPartFile, ServedCopy, make_content, make_flac_content, sha256
from .lower_bound import t_star
from .scenario import Scenario
from .transport import SimulatedTransport


@dataclass(frozen=True)
class SimulationResult:
    scenario: str
    finished: bool
    time: float  # seconds until the file was complete and checked (inf if never)
    sha256_ok: bool
    outcome: SwarmOutcome | None
    delivered_bytes: int  # everything the network delivered, overshoot included
    wasted_bytes: int  # delivered beyond the file size
    corrupt_sources: frozenset[str]  # sources that served corrupt blocks
    corrupt_served: frozenset[str]  # ... and actually delivered at least one of them
    convicted: frozenset[str]
    prefix_time: float | None  # when the watched prefix was complete (playback)
    reported_bytes: int  # bytes the session reported as served (RangeServed observations)
    overshoot_bytes: int  # bytes that arrived past a moved end and were thrown away
    decisions: tuple[tuple[float, Decision], ...]
    events: int
    requests: tuple[tuple[str, int, int], ...] = ()  # (source, start, end) the transport got
    breakdown: Breakdown | None = None  # where time was lost (``breakdown=True``)


def run_scenario(scenario: Scenario, config: SessionConfig | None = None, *,
                 prefix_bytes: int | None = None, stop_at_prefix: bool = False,
                 time_limit: float = 3600.0, breakdown: bool = False,
                 resume: ResumeState | None = None,
                 content: bytes | None = None) -> SimulationResult:
    """Simulate downloading the scenario's file with the swarm policy. ``breakdown`` also
    records where the time went against T* (slower: it watches every event). ``resume``:
    an earlier run kept these bytes (written into the part file first, as on disk: the true
    content for verified spans, the peer's own copy for received ones). ``content``: the file
    every honest source serves, instead of the scenario's own."""
    config = config or SessionConfig()
    block = config.scheduler.block_size
    loop = EventLoop()
    if content is None:
        content = (make_flac_content(scenario.file_size) if scenario.flac
                   else make_content(scenario.file_size, scenario.seed))
    expected = sha256(content)
    part = MemoryPartFile(scenario.file_size)
    if resume is not None:
        for start, end in resume.verified:
            part.write(start, memoryview(content)[start:end])
        for peer, spans in resume.received.items():
            known = {s.source_id: s for s in scenario.sources}
            bad = known[peer].corrupt_blocks if peer in known else frozenset()
            copy = ServedCopy(content, block, bad)
            for start, end in spans:
                part.write(start, copy.read(start, end))
    transport = SimulatedTransport(loop, scenario, content, part, block)
    specs = [SourceSpec(s.source_id, s.kind, advertised_speed=s.advertised_speed)
             for s in scenario.sources]
    session = SwarmSession(scenario.file_size, specs, transport, part, config,
                           expected_sha256=expected if scenario.reference_known else None,
                           resume=resume,
                           format_check=FlacFrameCheck(part.read) if scenario.flac else None)
    transport.listener = session
    if prefix_bytes is not None:
        session.watch_prefix(prefix_bytes)
    interval = config.scheduler.rebalance_interval

    def tick() -> None:
        if not session.done:
            session.tick(loop.now)
            loop.call_later(interval, tick)

    def finished() -> bool:
        if stop_at_prefix and prefix_bytes is not None and prefix_bytes in session.prefix_ready_at:
            return True
        return session.done

    timeline = attach(loop, transport, session) if breakdown else None
    session.start(0.0)
    loop.call_later(interval, tick)
    loop.run(finished, time_limit)
    outcome = session.outcome
    complete = outcome is not None and outcome.complete
    corrupt = frozenset(s.source_id for s in scenario.sources if s.corrupt)
    served = frozenset(sid for sid in corrupt if _served_corrupt(session, sid, scenario))
    delivered = transport.delivered + transport.overshoot
    return SimulationResult(
        scenario=scenario.name,
        finished=complete,
        time=outcome.finished_at if complete and outcome and outcome.finished_at is not None
        else float("inf"),
        sha256_ok=complete and part.sha256() == expected,
        outcome=outcome,
        delivered_bytes=delivered,
        wasted_bytes=max(0, delivered - scenario.file_size),
        corrupt_sources=corrupt,
        corrupt_served=served,
        convicted=frozenset(session.ledger.convicted),
        prefix_time=session.prefix_ready_at.get(prefix_bytes) if prefix_bytes else None,
        overshoot_bytes=transport.overshoot,
        reported_bytes=sum(o.size for o in session.observations if isinstance(o, RangeServed)),
        decisions=tuple(session.decisions),
        events=loop.events_run,
        requests=tuple(transport.requests),
        breakdown=analyse(scenario, timeline, transport, loop.now, t_star(scenario))
        if timeline is not None else None,
    )


def _served_corrupt(session: SwarmSession, source_id: str, scenario: Scenario) -> bool:
    """Did the source deliver any byte of a block it corrupts? (Only then is it detectable.)"""
    block = session.ledger.block_size
    bad = scenario.source(source_id).corrupt_blocks
    for start, end in session.served_ranges.get(source_id, []):
        first, last = start // block, (end - 1) // block
        if any(b in bad for b in range(first, last + 1)):
            return True
    return False


def with_reference(scenario: Scenario, known: bool) -> Scenario:
    return replace(scenario, reference_known=known)

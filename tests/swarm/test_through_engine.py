"""The swarm session driven by its actor against the simulator, with the real event store:
decisions and observations become Transfer and Peer events, and the projections follow."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from slskdn.config import Settings
from slskdn.domain.ids import peer_id
from slskdn.engine import Engine
from slskdn.projections.peer_quality import peer_quality, peer_rows
from slskdn.projections.transfers import transfers, underperforming
from slskdn.simulation.scenario import MB, Scenario, SimSource
from slskdn.simulation.through_engine import simulate


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    with Engine(settings) as running:
        yield running


def faulty() -> Scenario:
    return Scenario(
        name="faulty",
        seed=11,
        file_size=60 * MB,
        sources=(
            SimSource("fast", rate=3 * MB),
            SimSource("steady", rate=1.5 * MB),
            SimSource("staller", rate=2 * MB, stall_at=1.0, stall_rate=1_000.0),
            SimSource("quitter", rate=2 * MB, fail_at=3.0),
            SimSource("liar", rate=2 * MB, corrupt_blocks=frozenset(range(0, 1000))),
        ),
    )


def events(engine: Engine) -> Counter[str]:
    from slskdn.history import iter_events

    assert engine.store is not None
    return Counter(r["type"] for r in iter_events(engine.store))


def test_a_faulty_swarm_completes_and_its_story_is_in_the_log(engine: Engine) -> None:
    run = simulate(engine, faulty())
    assert run.outcome is not None and run.outcome.complete and run.sha256_ok
    engine.catch_up()
    seen = events(engine)
    assert seen["Transfer.Completed"] == 1
    assert seen["Transfer.RangeRequested"] >= 5
    assert seen["Transfer.RangeReceived"] == seen["Peer.RangeServed"] > 0
    assert seen["Transfer.SourceUnderperforming"] >= 1  # the staller
    assert seen["Peer.ErrorObserved"] >= 1  # the quitter
    with engine.projections["peer_quality"].engine.connect() as conn:
        peers = {p["username"]: p for p in peer_rows(conn, datetime.now(UTC))}
        done = conn.execute(sa.select(transfers)).mappings().one()
        verdicts = conn.execute(sa.select(underperforming)).mappings().all()
    assert set(peers) == {"sim-fast", "sim-steady", "sim-staller", "sim-quitter", "sim-liar"}
    assert peers["sim-fast"]["throughput_bps"] > peers["sim-steady"]["throughput_bps"]
    assert peers["sim-quitter"]["error_rate"] > 0
    assert peers["sim-staller"]["timeout_rate"] > 0
    assert (done["status"], done["sha256"]) == ("completed", run.outcome.sha256)
    assert done["bytes_received"] >= faulty().file_size
    assert verdicts and all(not v["open"] for v in verdicts)  # closed with the transfer


def test_a_peer_that_queues_us_is_in_the_log_and_still_serves_when_its_turn_comes(
        engine: Engine) -> None:
    busy = Scenario(
        name="busy", seed=12, file_size=20 * MB,
        sources=(SimSource("free", rate=1 * MB), SimSource("busy", rate=4 * MB, queue_delay=3.0)),
    )  # fmt: skip
    run = simulate(engine, busy)
    assert run.outcome is not None and run.outcome.complete and run.sha256_ok
    engine.catch_up()
    from slskdn.history import iter_events

    assert engine.store is not None
    queued = [r for r in iter_events(engine.store) if r["type"] == "Transfer.SourceQueued"]
    assert len(queued) == 1  # the first request only: later ones are not queued
    busy_peer = peer_id("sim-busy", "soulseek")
    assert queued[0]["data"]["peer_id"] == str(busy_peer)
    received = {r["data"]["peer_id"] for r in iter_events(engine.store)
                if r["type"] == "Transfer.RangeReceived"}  # fmt: skip
    assert str(busy_peer) in received  # queued is not dropped: it serves once it is its turn


def test_a_source_that_sent_corrupt_bytes_loses_its_reputation(engine: Engine) -> None:
    run = simulate(engine, faulty())
    assert run.outcome is not None
    assert "liar" in run.outcome.convicted  # every block it serves is corrupt
    engine.catch_up()
    with engine.projections["peer_quality"].engine.connect() as conn:
        liar = next(p for p in peer_rows(conn, datetime.now(UTC)) if p["username"] == "sim-liar")
    assert liar["reason"] == "sent corrupt data"
    assert liar["quarantined"]


def test_peer_quality_rebuilds_to_the_same_rows(engine: Engine) -> None:
    simulate(engine, faulty())
    simulate(engine, faulty())
    engine.catch_up()
    runner = engine.projections["peer_quality"]
    with runner.engine.connect() as conn:
        before = conn.execute(sa.select(peer_quality).order_by("peer_id")).all()
    runner.rebuild()
    with runner.engine.connect() as conn:
        assert conn.execute(sa.select(peer_quality).order_by("peer_id")).all() == before

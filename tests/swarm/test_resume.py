"""Resuming: bytes an earlier run verified are never requested again, and the file is still
checked whole at the end."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slskdn.domain.swarm.range_map import ByteState, merge_ranges
from slskdn.domain.swarm.resume import EARLIER_RUN, ResumeError, ResumeState
from slskdn.domain.swarm.session import SwarmSession
from slskdn.domain.swarm.tracking import SourceSpec
from slskdn.simulation.content import MemoryPartFile
from slskdn.simulation.runner import run_scenario
from slskdn.simulation.scenario import KIB, MB, Scenario, SimSource, random_scenario


def overlapping(requests: tuple[tuple[str, int, int], ...],
                spans: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    return [(sid, a, b) for sid, a, b in requests if any(a < e and b > s for s, e in spans)]


def test_a_session_resumed_with_half_the_file_verified_requests_none_of_it() -> None:
    sc = random_scenario(5, faults=False, file_size=20 * MB)
    kept = [(0, 5 * MB), (12 * MB, 17 * MB)]  # half of the file, in two spans
    result = run_scenario(sc, resume=ResumeState(verified=kept))
    assert result.finished and result.sha256_ok
    assert result.outcome is not None and result.outcome.verified  # the whole-file check ran
    assert result.requests, "the other half was fetched"
    assert overlapping(result.requests, kept) == []
    assert result.delivered_bytes < 0.6 * sc.file_size


def test_a_fully_verified_resume_finishes_without_asking_anyone() -> None:
    sc = random_scenario(6, faults=False, file_size=3 * MB)
    result = run_scenario(sc, resume=ResumeState(verified=[(0, sc.file_size)]))
    assert result.finished and result.sha256_ok and result.requests == ()


def test_kept_unverified_bytes_of_a_corrupt_peer_are_traced_and_fetched_again() -> None:
    size = 4 * MB
    liar = SimSource("liar", 2 * MB, corrupt_blocks=frozenset(range(0, 64, 5)))
    sc = Scenario("r", 3, size, (SimSource("honest", 1 * MB), liar), downlink=50 * MB)
    kept = ResumeState(verified=[(2 * MB, size)], received={"liar": [(0, 2 * MB)]})
    result = run_scenario(sc, resume=kept)
    assert result.finished and result.sha256_ok
    assert "liar" in result.convicted
    assert overlapping(result.requests, [(2 * MB, size)]) == []


def test_bytes_kept_from_a_peer_that_is_not_a_source_are_fetched_again() -> None:
    sc = Scenario("r", 4, 2 * MB, (SimSource("a", 1 * MB),), downlink=50 * MB)
    part = MemoryPartFile(sc.file_size)
    part.write(0, b"\xff" * MB)  # whatever the vanished peer sent
    session = SwarmSession(sc.file_size, [SourceSpec("a", "soulseek")],
                           transport=None, part_file=part,  # type: ignore[arg-type]
                           resume=ResumeState(received={"gone": [(0, MB)]}))
    assert session.range_map.bytes_in(ByteState.PENDING) == sc.file_size
    assert part.write(0, b"\x00" * MB) == MB  # discarded: the new bytes will be kept
    result = run_scenario(sc, resume=ResumeState(received={"gone": [(0, 1 * MB)]}))
    assert result.finished and result.sha256_ok
    assert any(a == 0 for _, a, _ in result.requests)


def test_a_resume_span_outside_the_file_is_refused_with_a_clear_error() -> None:
    part = MemoryPartFile(1000)
    with pytest.raises(ResumeError, match=r"\[900, 1200\) is not inside the 1000-byte file"):
        SwarmSession(1000, [SourceSpec("a", "soulseek")], transport=None,  # type: ignore[arg-type]
                     part_file=part, resume=ResumeState(verified=[(900, 1200)]))


def test_resumed_bytes_start_verified_and_owned_by_the_earlier_run() -> None:
    part = MemoryPartFile(4 * MB)
    session = SwarmSession(4 * MB, [SourceSpec("a", "soulseek")], transport=None,  # type: ignore[arg-type]
                           part_file=part, resume=ResumeState(verified=[(0, MB), (MB, 2 * MB)],
                                                              received={"a": [(3 * MB, 4 * MB)]}))
    assert session.range_map.ranges(ByteState.VERIFIED, EARLIER_RUN) == [(0, 2 * MB)]
    assert session.range_map.ranges(ByteState.RECEIVED, "a") == [(3 * MB, 4 * MB)]
    assert session.resumed == {EARLIER_RUN: 2 * MB, "a": MB}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.lists(st.tuples(st.integers(0, 63), st.integers(1, 16)),
                                       max_size=6))
def test_no_verified_byte_is_ever_requested_again(seed: int,
                                                  picks: list[tuple[int, int]]) -> None:
    size = 4 * MB
    block = 64 * KIB
    rng = random.Random(seed)
    kept = merge_ranges((b * block + rng.randrange(block), min(size, (b + n) * block))
                        for b, n in picks)
    sc = random_scenario(seed % 1000, faults=False, file_size=size)
    result = run_scenario(sc, resume=ResumeState(verified=kept), time_limit=600.0)
    assert result.finished and result.sha256_ok
    assert overlapping(result.requests, kept) == []

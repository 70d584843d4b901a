"""FLAC frame CRCs judge each source's bytes as they arrive (``domain/swarm/frames``), on
real FLAC streams encoded by libFLAC, through the simulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from slskdn.domain.swarm.decisions import Assign, Rebalance
from slskdn.domain.swarm.session import SessionConfig
from slskdn.simulation.content import make_flac_content, sha256
from slskdn.simulation.runner import SimulationResult, run_scenario
from slskdn.simulation.scenario import KIB, MB, Scenario, SimSource

SIZE = 12 * MB


def flac_scenario(*sources: SimSource) -> Scenario:
    return Scenario("frames", 3, SIZE, sources, downlink=50 * MB, flac=True)


def honest(name: str, rate: float) -> SimSource:
    return SimSource(name, rate, negotiation=0.3, advertised_speed=rate)


def rebalances(result: SimulationResult) -> list[tuple[float, str]]:
    return [(t, d.reason) for t, d in result.decisions if isinstance(d, Rebalance)]


# A few scattered bad blocks, none in the first 2 MB: the liar streams good bytes first.
SCATTERED = frozenset({40, 90, 140})


def test_a_source_whose_frame_fails_its_crc_is_convicted_once_another_copy_passes() -> None:
    sc = flac_scenario(honest("a", 1 * MB), honest("b", 1 * MB),
                       SimSource("liar", 2 * MB, negotiation=0.3, advertised_speed=2 * MB,
                                 corrupt_blocks=SCATTERED))
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert result.convicted == {"liar"}
    notes = rebalances(result)
    suspended = next(t for t, r in notes if r.startswith("liar suspended: its bytes at"))
    convicted = next(t for t, r in notes if r.startswith("liar convicted (sent bytes that are no "
                                                         "valid FLAC frame"))
    assert suspended <= convicted < result.time
    # Found while the file was still arriving, not by the whole-file check at the end.
    assert not any("whole-file check failed" in r for _, r in notes)


def test_without_frame_checks_the_same_liar_is_found_only_by_cross_checks_and_the_end() -> None:
    sc = flac_scenario(honest("a", 1 * MB), honest("b", 1 * MB),
                       SimSource("liar", 2 * MB, negotiation=0.3, advertised_speed=2 * MB,
                                 corrupt_blocks=SCATTERED))
    result = run_scenario(sc, SessionConfig(frame_checks=False))
    assert result.finished and result.sha256_ok
    assert not any("FLAC frame" in r for _, r in rebalances(result))


def test_bytes_with_no_format_are_never_judged_by_frames() -> None:
    sc = Scenario("bytes", 3, SIZE, (honest("a", 1 * MB), SimSource(
        "liar", 2 * MB, negotiation=0.3, corrupt_blocks=SCATTERED)), downlink=50 * MB)
    result = run_scenario(sc)
    assert result.finished and result.sha256_ok
    assert not any("FLAC frame" in r for _, r in rebalances(result))


def flipped_byte(content: bytearray) -> None:
    content[5 * MB + 300 * KIB] ^= 0x5A  # inside some frame: its CRC fails


def zeros_to_the_end(content: bytearray) -> None:
    # An unfinished file: the frame before the zeros never ends, and no frame follows.
    content[5 * MB:] = bytes(len(content) - 5 * MB)


@pytest.mark.parametrize("damage", [flipped_byte, zeros_to_the_end])
def test_damage_alike_in_every_copy_clears_its_suspect_and_accuses_nobody(
        damage: Callable[[bytearray], None]) -> None:
    content = bytearray(make_flac_content(SIZE))
    damage(content)  # in every copy the sources serve: the file itself is damaged
    sc = flac_scenario(honest("a", 1 * MB), honest("b", 1 * MB), honest("c", 2 * MB))
    result = run_scenario(sc, content=bytes(content))
    assert result.finished
    assert result.outcome is not None and result.outcome.sha256 == sha256(content)
    assert result.convicted == frozenset()
    notes = rebalances(result)
    assert any("suspended: its bytes at" in r for _, r in notes), notes
    assert any("the file itself is damaged there" in r for _, r in notes), notes


def test_a_frame_under_recheck_is_fetched_first_by_the_next_source_with_work() -> None:
    content = bytearray(make_flac_content(SIZE))
    flipped_byte(content)
    sc = flac_scenario(honest("a", 0.5 * MB), honest("b", 0.5 * MB), honest("c", 4 * MB))
    result = run_scenario(sc, content=bytes(content))
    suspended = next(t for t, d in result.decisions
                     if isinstance(d, Rebalance) and d.reason.startswith("c suspended"))
    frame = next(d for _, d in result.decisions if isinstance(d, Rebalance)
                 and d.reason.startswith("c suspended")).reason.split("bytes at ")[1]
    frame_start = int(frame.split("–")[0])
    # c's cancelled range is the largest gap; the frame (15 KiB) would wait for the end game,
    # c idle meanwhile. The next source given pending bytes starts at the frame instead and
    # streams on into c's range.
    first = next(d for t, d in result.decisions if t >= suspended and isinstance(d, Assign))
    assert first.start == frame_start
    assert first.end > frame_start + MB
    assert "re-check" in first.reason

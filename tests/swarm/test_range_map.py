"""RangeMap: every byte of the file is in exactly one state, whatever happens to it."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slskdn.domain.swarm.range_map import (
    ByteState,
    RangeError,
    RangeMap,
    Segment,
    align_down,
    align_up,
    merge_ranges,
)

P, F, R, V = ByteState.PENDING, ByteState.IN_FLIGHT, ByteState.RECEIVED, ByteState.VERIFIED


def states(rm: RangeMap) -> list[tuple[ByteState, str | None]]:
    """The map expanded to one (state, source) per byte."""
    out: list[tuple[ByteState, str | None]] = []
    for seg in rm.segments():
        out.extend([(seg.state, seg.source)] * seg.size)
    return out


def assert_canonical(rm: RangeMap) -> None:
    segs = rm.segments()
    assert segs[0].start == 0 and segs[-1].end == rm.size
    for a, b in pairwise(segs):
        assert a.end == b.start, "segments must tile the file"
        assert (a.state, a.source) != (b.state, b.source), "neighbours must be merged"
    for seg in segs:
        assert seg.end > seg.start
        assert (seg.source is None) == (seg.state == P)
    assert sum(rm.bytes_in(s) for s in ByteState) == rm.size


def test_a_new_file_is_all_pending() -> None:
    rm = RangeMap(100)
    assert rm.segments() == (Segment(0, 100, P, None),)
    assert rm.pending() == [(0, 100)]
    assert not rm.is_complete()


def test_assign_splits_pending_and_release_merges_it_back() -> None:
    rm = RangeMap(100)
    rm.assign(20, 50, "a")
    assert rm.segments() == (Segment(0, 20, P, None), Segment(20, 50, F, "a"),
                             Segment(50, 100, P, None))
    assert rm.release("a") == 30
    assert rm.segments() == (Segment(0, 100, P, None),)


def test_assign_refuses_bytes_that_are_not_pending() -> None:
    rm = RangeMap(100)
    rm.assign(0, 50, "a")
    with pytest.raises(RangeError):
        rm.assign(40, 60, "b")
    assert rm.in_flight("a") == [(0, 50)] and rm.in_flight("b") == []


def test_steal_moves_the_victims_end_earlier() -> None:
    rm = RangeMap(100)
    rm.assign(0, 100, "a")
    rm.steal("a", 100, 60, "b")
    assert rm.in_flight("a") == [(0, 60)]
    assert rm.in_flight("b") == [(60, 100)]


def test_steal_of_a_chunk_from_the_middle_returns_the_rest_to_pending() -> None:
    rm = RangeMap(100)
    rm.assign(0, 100, "a")
    rm.steal("a", 100, 40, "o", thief_end=50)
    assert rm.in_flight("a") == [(0, 40)]
    assert rm.in_flight("o") == [(40, 50)]
    assert rm.pending() == [(50, 100)]


def test_steal_keeps_bytes_already_received_inside_the_stolen_part() -> None:
    rm = RangeMap(100)
    rm.assign(0, 100, "a")
    rm.mark_received(70, 80, "c")  # someone else got there first
    rm.steal("a", 100, 50, "b")
    assert rm.in_flight("b") == [(50, 70), (80, 100)]
    assert rm.ranges(R, "c") == [(70, 80)]


def test_steal_refuses_other_sources_in_flight_bytes() -> None:
    rm = RangeMap(100)
    rm.assign(0, 50, "a")
    rm.assign(50, 100, "c")
    with pytest.raises(RangeError):
        rm.steal("a", 100, 40, "b")


def test_first_delivery_of_a_byte_wins_and_later_ones_count_as_duplicates() -> None:
    rm = RangeMap(100)
    rm.assign(0, 100, "a")
    first = rm.mark_received(0, 60, "b")  # b raced a and delivered first
    assert first.new_bytes == 60 and first.duplicate_bytes == 0 and first.taken_from == ("a",)
    second = rm.mark_received(40, 100, "a")
    assert second.new_bytes == 40 and second.duplicate_bytes == 20
    assert rm.ranges(R, "b") == [(0, 60)] and rm.ranges(R, "a") == [(60, 100)]
    assert rm.is_complete()


def test_partial_receipt_leaves_the_rest_in_flight() -> None:
    rm = RangeMap(100)
    rm.assign(10, 90, "a")
    rm.mark_received(10, 35, "a")
    assert rm.ranges(R, "a") == [(10, 35)]
    assert rm.in_flight("a") == [(35, 90)]


def test_verify_requires_received_bytes_and_keeps_the_source() -> None:
    rm = RangeMap(100)
    rm.assign(0, 100, "a")
    rm.mark_received(0, 50, "a")
    with pytest.raises(RangeError):
        rm.mark_verified(0, 60)
    assert rm.mark_verified(0, 50) == 50
    assert rm.ranges(V, "a") == [(0, 50)]


def test_invalidate_sends_a_corrupt_sources_unverified_bytes_back_to_pending() -> None:
    rm = RangeMap(100)
    rm.assign(0, 100, "x")
    rm.mark_received(0, 100, "x")
    rm.mark_verified(0, 20)  # cross-checked before: right, and stays
    assert rm.invalidate("x") == 80
    assert rm.ranges(V, "x") == [(0, 20)]
    assert rm.pending() == [(20, 100)]


def test_received_until_finds_the_contiguous_prefix() -> None:
    rm = RangeMap(100)
    rm.assign(0, 100, "a")
    rm.mark_received(0, 30, "a")
    rm.mark_received(30, 40, "b")
    rm.mark_received(50, 60, "b")
    assert rm.received_until(0) == 40
    assert rm.received_until(45) == 45


def test_helpers_merge_and_align() -> None:
    assert merge_ranges([(5, 10), (0, 3), (3, 5), (20, 20), (8, 12)]) == [(0, 12)]
    assert align_up(65, 64, 1000) == 128 and align_up(990, 64, 1000) == 1000
    assert align_down(130, 64) == 128


# --- property: random operation sequences against a byte-by-byte model ---------------------

SOURCES = ["a", "b", "c"]
SIZE = 64

op = st.one_of(
    st.tuples(st.just("assign"), st.integers(0, SIZE), st.integers(0, SIZE),
              st.sampled_from(SOURCES)),
    st.tuples(st.just("release"), st.integers(0, SIZE), st.integers(0, SIZE),
              st.sampled_from(SOURCES)),
    st.tuples(st.just("steal"), st.integers(0, SIZE), st.integers(0, SIZE),
              st.sampled_from(SOURCES), st.sampled_from(SOURCES), st.integers(0, SIZE)),
    st.tuples(st.just("receive"), st.integers(0, SIZE), st.integers(0, SIZE),
              st.sampled_from(SOURCES)),
    st.tuples(st.just("verify"), st.integers(0, SIZE), st.integers(0, SIZE)),
    st.tuples(st.just("invalidate"), st.sampled_from(SOURCES)),
)


def model_apply(model: list[tuple[ByteState, str | None]], o: tuple) -> bool:
    """Apply one operation to the byte model; False if the RangeMap must refuse it."""
    kind = o[0]
    if kind in ("assign", "release", "receive", "verify"):
        lo, hi = sorted(o[1:3])
        if kind == "assign":
            if any(model[i][0] != P for i in range(lo, hi)):
                return False
            for i in range(lo, hi):
                model[i] = (F, o[3])
        elif kind == "release":
            for i in range(lo, hi):
                if model[i] == (F, o[3]):
                    model[i] = (P, None)
        elif kind == "receive":
            for i in range(lo, hi):
                if model[i][0] < R:
                    model[i] = (R, o[3])
        else:
            if any(model[i][0] < R for i in range(lo, hi)):
                return False
            for i in range(lo, hi):
                model[i] = (V, model[i][1])
        return True
    if kind == "steal":
        _, new_end, victim_end, victim, thief, thief_end = o
        thief_end = min(max(thief_end, new_end), victim_end)
        if not new_end <= victim_end:
            return False
        span = model[new_end:victim_end]
        if any(s[0] == F and s[1] != victim for s in span) or any(s[0] == P for s in span):
            return False
        if not any(s[0] == F for s in span):
            return False
        for i in range(new_end, victim_end):
            if model[i] == (F, victim):
                model[i] = (F, thief) if i < thief_end else (P, None)
        return True
    # invalidate
    for i in range(SIZE):
        if model[i] == (R, o[1]):
            model[i] = (P, None)
    return True


def map_apply(rm: RangeMap, o: tuple) -> None:
    kind = o[0]
    if kind in ("assign", "release", "receive", "verify"):
        lo, hi = sorted(o[1:3])
        if kind == "assign":
            rm.assign(lo, hi, o[3])
        elif kind == "release":
            rm.release(o[3], lo, hi)
        elif kind == "receive":
            rm.mark_received(lo, hi, o[3])
        else:
            rm.mark_verified(lo, hi)
    elif kind == "steal":
        _, new_end, victim_end, victim, thief, thief_end = o
        rm.steal(victim, victim_end, new_end, thief, min(max(thief_end, new_end), victim_end))
    else:
        rm.invalidate(o[1])


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40))
def test_every_byte_is_accounted_for_exactly_once(ops: list[tuple]) -> None:
    rm = RangeMap(SIZE)
    model: list[tuple[ByteState, str | None]] = [(P, None)] * SIZE
    for o in ops:
        before = rm.segments()
        expected_ok = model_apply(model, o)
        try:
            map_apply(rm, o)
            ok = True
        except RangeError:
            ok = False
        assert ok == expected_ok, f"{o} accepted={ok}, model says {expected_ok}"
        if not ok:
            assert rm.segments() == before, "a refused operation must change nothing"
        assert_canonical(rm)
        assert states(rm) == model

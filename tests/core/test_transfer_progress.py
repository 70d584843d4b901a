"""Spans and the bytes an interrupted transfer keeps (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.ids import new_id
from slskdn.domain.spans import Span, add_span, gaps, remove_span, total
from slskdn.domain.transfer import Transfer
from slskdn.domain.transfer_progress import kept_bytes

AT = datetime(2026, 11, 21, tzinfo=UTC)
pairs = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 60)), max_size=30)


def _cover(spans: list[Span]) -> set[int]:
    return {i for a, b in spans for i in range(a, b)}


@given(pairs, pairs)
def test_spans_behave_like_sets_of_bytes(adds: list[tuple[int, int]],
                                          removes: list[tuple[int, int]]) -> None:
    spans: list[Span] = []
    model: set[int] = set()
    for a, n in adds:
        add_span(spans, a, a + n)
        model |= set(range(a, a + n))
    for a, n in removes[: len(removes) // 2]:
        remove_span(spans, a, a + n)
        model -= set(range(a, a + n))
    assert _cover(spans) == model
    assert total(spans) == len(model)
    assert all(a < b for a, b in spans)
    assert all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1))  # merged
    assert _cover(gaps(spans, 50, 150)) == set(range(50, 150)) - model


def _transfer() -> Transfer:
    t = Transfer.create(id=new_id(AT), at=AT, filename="a.flac", size_bytes=1000)
    t.add_sources(AT, [{"peer_id": p, "kind": "soulseek", "username": p} for p in "pq"])
    return t


def test_the_first_sender_of_a_byte_owns_it_and_verified_bytes_belong_to_nobody() -> None:
    t = _transfer()
    t.receive_range(AT, "p", 0, 400, 10)
    t.receive_range(AT, "q", 300, 300, 10)  # 300..400 were p's already
    t.verify_range(AT, 0, 200, "00" * 32)
    kept = kept_bytes(1000, t.collect_events())
    assert kept.verified == [(0, 200)]
    assert kept.received == {"p": [(200, 400)], "q": [(400, 600)]}
    assert kept.kept == 600 and not kept.complete


def test_corrupt_bytes_are_not_kept_and_a_later_sender_may_claim_them() -> None:
    t = _transfer()
    t.receive_range(AT, "p", 0, 500, 10)
    t.fail_range(AT, "p", 100, "corrupt", "bytes differ", length=100)
    t.receive_range(AT, "q", 100, 100, 10)
    t.receive_range(AT, "q", 500, 500, 10)
    kept = kept_bytes(1000, t.collect_events())
    assert kept.received == {"p": [(0, 100), (200, 500)], "q": [(100, 200), (500, 1000)]}
    assert kept.complete

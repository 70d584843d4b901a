"""Sorted, merged, non-overlapping [start, end) byte spans as plain lists of pairs."""

from __future__ import annotations

from bisect import bisect_left

Span = tuple[int, int]


def add_span(spans: list[Span], start: int, end: int) -> None:
    """Insert [start, end) into ``spans``, merging it with the spans it touches."""
    if end <= start:
        return
    i = bisect_left(spans, (start, start))
    if i > 0 and spans[i - 1][1] >= start:
        i -= 1
    j = i
    while j < len(spans) and spans[j][0] <= end:
        start, end = min(start, spans[j][0]), max(end, spans[j][1])
        j += 1
    spans[i:j] = [(start, end)]


def remove_span(spans: list[Span], start: int, end: int) -> None:
    """Take [start, end) out of ``spans``."""
    if end <= start:
        return
    kept: list[Span] = []
    for a, b in spans:
        if b <= start or a >= end:
            kept.append((a, b))
            continue
        if a < start:
            kept.append((a, start))
        if b > end:
            kept.append((end, b))
    spans[:] = kept


def gaps(spans: list[Span], start: int, end: int) -> list[Span]:
    """The parts of [start, end) that ``spans`` does not cover."""
    out: list[Span] = []
    pos = start
    for a, b in spans[max(0, bisect_left(spans, (start, start)) - 1):]:
        if a >= end:
            break
        if b <= pos:
            continue
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < end:
        out.append((pos, end))
    return out


def total(spans: list[Span]) -> int:
    return sum(b - a for a, b in spans)

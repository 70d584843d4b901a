"""Resuming a download: what an earlier run of the same file already has in the part file.

A session built with a ``ResumeState`` starts from those bytes instead of from nothing:

- ``verified`` spans — bytes the earlier run proved right (two sources agreed, a reference
  matched) — are verified in the range map from the start. They are never requested again:
  the planner only hands out pending bytes, and a stream never runs on over verified ones.
- ``received`` spans per peer — bytes kept on disk but never cross-checked — count as
  received from that peer when it is among the sources (its unverified bytes, as if it had sent
  them in this run: the whole-file check covers them and a failure is traced to it). Bytes of a
  peer that is not a source now are fetched again: nobody could answer for them.

The whole-file check at the end is unchanged: a resumed file is accepted only if all of it,
old bytes included, matches. Spans are half-open ``(start, end)`` byte offsets, the shape of
``slskdn.domain.transfer_progress.KeptBytes``; the part file must hold those bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .range_map import ByteState, RangeMap, merge_ranges

# The owner recorded for bytes verified by an earlier run (the range map needs one).
EARLIER_RUN = "(earlier run)"

Span = tuple[int, int]


@dataclass(frozen=True)
class ResumeState:
    verified: Sequence[Span] = ()
    received: Mapping[str, Sequence[Span]] = field(default_factory=dict)  # peer id -> spans

    @property
    def verified_bytes(self) -> int:
        return sum(b - a for a, b in merge_ranges(self.verified))


class ResumeError(ValueError):
    """The resume state does not fit the file (a span outside it, or backwards)."""


def _checked(spans: Iterable[Span], size: int, what: str) -> list[Span]:
    out = []
    for span in spans:
        start, end = span
        if not 0 <= start < end <= size:
            raise ResumeError(f"resume: {what} span [{start}, {end}) is not inside the "
                              f"{size}-byte file")
        out.append((start, end))
    return merge_ranges(out)


def apply_resume(range_map: RangeMap, resume: ResumeState, source_of_peer: Mapping[str, str]
                 ) -> tuple[dict[str, int], list[Span]]:
    """Mark what an earlier run kept. Returns the bytes taken per source (and EARLIER_RUN) and
    the spans left to fetch again (the caller discards them from the part file, where the
    first write of a byte would otherwise win)."""
    size = range_map.size
    verified = _checked(resume.verified, size, "verified")
    taken: dict[str, int] = {}
    dropped: list[Span] = []
    for start, end in verified:
        range_map.mark_received(start, end, EARLIER_RUN)
        range_map.mark_verified(start, end)
        taken[EARLIER_RUN] = taken.get(EARLIER_RUN, 0) + end - start
    for peer, spans in sorted(resume.received.items()):
        source = source_of_peer.get(peer)
        checked = _checked(spans, size, f"received ({peer})")
        for start, end in checked:
            for seg in list(range_map.iter_segments(start, end)):
                if seg.state != ByteState.PENDING:
                    continue
                if source is None:
                    dropped.append((seg.start, seg.end))
                else:
                    range_map.mark_received(seg.start, seg.end, source)
                    taken[source] = taken.get(source, 0) + seg.size
    return taken, merge_ranges(dropped)

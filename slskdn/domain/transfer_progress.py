"""What an interrupted transfer already has on disk, read from its events. Pure.

A resumed run keeps two kinds of bytes of the part file:
- **verified** spans (``RangeVerified``): never fetched again;
- **received** spans (``RangeReceived``), attributed to the peer that sent them first —
  the data path lets the first write of a byte win, so that peer's bytes are what is on
  disk. They are kept as that peer's unverified bytes: the whole-file check at the end
  still covers them, and a failure is traced back to that peer as in a single run.

Bytes later found corrupt (``RangeFailed`` with error code ``corrupt``) are dropped from
their sender, so a resumed run fetches them again. Bytes a killed process wrote but had
not yet recorded are fetched again too: the log, not the disk, says what is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from slskdn.domain.spans import Span, add_span, gaps, remove_span, total
from slskdn.domain.transfer import Transfer


@dataclass
class KeptBytes:
    size: int
    verified: list[Span] = field(default_factory=list)
    received: dict[str, list[Span]] = field(default_factory=dict)  # peer id -> spans

    @property
    def kept(self) -> int:
        return total(self.verified) + sum(total(s) for s in self.received.values())

    @property
    def complete(self) -> bool:
        return self.size > 0 and self.kept == self.size


def kept_bytes(size: int, events: Iterable[Any]) -> KeptBytes:
    """Fold a transfer's events (in log order) into the bytes its part file holds."""
    out = KeptBytes(size)
    claimed: list[Span] = []  # every byte somebody's write put on disk
    for e in events:
        if isinstance(e, Transfer.RangeReceived) and e.bytes > 0:
            for a, b in gaps(claimed, e.offset, e.offset + e.bytes):
                add_span(out.received.setdefault(e.peer_id, []), a, b)
                add_span(claimed, a, b)
        elif isinstance(e, Transfer.RangeVerified):
            a, b = e.offset, e.offset + e.length
            add_span(out.verified, a, b)
            add_span(claimed, a, b)
            for spans in out.received.values():
                remove_span(spans, a, b)
        elif isinstance(e, Transfer.RangeFailed) and e.error_code == "corrupt" and e.bytes > 0:
            a, b = e.offset, e.offset + e.bytes
            mine = out.received.get(e.peer_id, [])
            for ma, mb in [s for s in mine if s[0] < b and s[1] > a]:
                remove_span(claimed, max(a, ma), min(b, mb))
            remove_span(mine, a, b)
    out.received = {p: s for p, s in out.received.items() if s}
    return out

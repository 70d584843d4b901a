"""Plain records that cross the boundary of the swarm policy.

Decisions go out of the scheduler (and become events such as RangeRequested or
SwarmRebalanced once the Transfer aggregate records them); observations go into
metrics, reputation and stall detection. Every field is a primitive so that a
record maps one-to-one onto an event payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SourceKind = Literal["soulseek", "overlay"]
SOULSEEK: SourceKind = "soulseek"
OVERLAY: SourceKind = "overlay"

SourceState = Literal["idle", "negotiating", "queued", "ready", "streaming", "dead"]


# --- decisions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Negotiate:
    """Open a new transfer with a Soulseek source; its start offset is chosen when it is ready.

    Soulseek sends the start offset only once the file connection is open, so the range is
    bound late (see docs/swarm.md): the negotiation is the costly part, not the offset.
    """

    source_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Assign:
    """Give pending bytes [start, end) to a source."""

    source_id: str
    start: int
    end: int
    reason: str


@dataclass(frozen=True, slots=True)
class Steal:
    """Move the end of a victim's in-flight range earlier and give the tail to a thief.

    The victim's range that ended at ``victim_end`` now ends at ``new_end``. The thief fetches
    [start, end); ``start`` may lie a little before ``new_end`` (an overlap block that both
    sources send, for a free integrity cross-check). Bytes in [end, victim_end) go back to
    pending (used when an overlay chunk is cut out of the middle of a range).
    """

    victim_id: str
    victim_end: int
    new_end: int
    thief_id: str
    start: int
    end: int
    reason: str


@dataclass(frozen=True, slots=True)
class Extend:
    """Move the end of a source's running transfer later, from ``start`` to ``end``.

    A Soulseek stream runs until the downloader closes it, so a stream about to reach its end
    can go on for free: over pending bytes, or over the range of a much slower source (which
    is cancelled in the same plan) at the price of re-fetching the few bytes that one already
    had. No new negotiation, no idle time for the fast source.
    """

    source_id: str
    start: int
    end: int
    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """End-game: fetch bytes another source still owns; the slower of the two is cancelled."""

    source_id: str
    of_source_id: str
    start: int
    end: int
    reason: str
    # The raced source is healthy, only slower (an end-game race): losing is no reason to
    # keep it idle afterwards, unlike a stalled or far slower source.
    healthy: bool = False


@dataclass(frozen=True, slots=True)
class Cancel:
    """Stop a source's transfer of [start, end); unreceived bytes it owned go back to pending.

    ``backoff``: the source is not asked again for a while (it was far slower than usual, or
    it lost a race it was raced in for being stalled or far slower)."""

    source_id: str
    start: int
    end: int
    reason: str
    backoff: bool = False


@dataclass(frozen=True, slots=True)
class Release:
    """A ready Soulseek source is not needed after all: close it without fetching anything."""

    source_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Rebalance:
    """A marker that the plan changed for a reason worth an event (SwarmRebalanced)."""

    reason: str
    rescue: bool = False


Decision = Negotiate | Assign | Steal | Extend | Duplicate | Cancel | Release | Rebalance


# --- observations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeServed:
    """A source delivered ``size`` bytes in ``duration`` seconds (a progress sample or a range)."""

    peer_id: str
    start: int
    size: int
    duration: float
    at: float


@dataclass(frozen=True, slots=True)
class RangeCompleted:
    """A source finished a whole range it was asked for."""

    peer_id: str
    start: int
    end: int
    at: float


@dataclass(frozen=True, slots=True)
class RttSampled:
    peer_id: str
    rtt: float
    at: float


@dataclass(frozen=True, slots=True)
class NegotiationTimed:
    """Seconds from asking a Soulseek peer for the file until it was ready to send."""

    peer_id: str
    duration: float
    at: float


@dataclass(frozen=True, slots=True)
class QueuedByPeer:
    """A Soulseek peer put our request in its upload queue (``place``: position, if told)."""

    peer_id: str
    place: int | None
    at: float


@dataclass(frozen=True, slots=True)
class TransferErrored:
    peer_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class TransferTimedOut:
    peer_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelledByPeer:
    peer_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CorruptRangeFound:
    """Bytes a peer sent in [start, end) differ from the verified content."""

    peer_id: str
    start: int
    end: int
    at: float


Observation = (
    RangeServed
    | RangeCompleted
    | RttSampled
    | NegotiationTimed
    | QueuedByPeer
    | TransferErrored
    | TransferTimedOut
    | CancelledByPeer
    | CorruptRangeFound
)

"""Ports between the swarm session and the outside world (network and part file).

The simulator implements them in memory; the aioslsk and overlay adapters implement them for
real. Times are passed in (``now``); nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

# (start, end, hex digest) of block pieces a transfer completed: whole integrity blocks, and the
# partial pieces at the ends of its range (a stream that starts or stops inside a block).
BlockDigests = Sequence[tuple[int, int, str]]


class TransferListener(Protocol):
    """What a transport reports back. Bytes themselves go to the part file (data path)."""

    def on_ready(self, source_id: str, now: float) -> None:
        """A negotiated Soulseek source opened its file connection and waits for an offset."""

    def on_queued(self, source_id: str, place: int | None, now: float) -> None:
        """A negotiating Soulseek source answered that our request waits in its upload queue
        (``place``: our position there, if the peer said)."""

    def on_progress(self, request_id: int, position: int, blocks: BlockDigests,
                    now: float) -> None:
        """Bytes up to ``position`` arrived. ``position == start`` with no blocks is the first
        byte signal (the stream started)."""

    def on_complete(self, request_id: int, now: float) -> None:
        """The transfer reached its (possibly moved) end and is closed."""

    def on_failed(self, source_id: str, request_id: int | None, reason: str, permanent: bool,
                  now: float) -> None:
        """A negotiation (``request_id`` None) or a transfer failed."""


class RangeTransport(Protocol):
    """Fetches byte ranges from sources."""

    def negotiate(self, source_id: str) -> None:
        """Soulseek: queue a transfer request; ``on_ready`` follows when the peer is ready."""

    def request(self, source_id: str, start: int, end: int) -> int:
        """Fetch [start, end) from the source; returns a request id. For Soulseek the source
        must be ready; the stream starts at ``start`` and is closed at ``end``."""

    def set_end(self, request_id: int, end: int) -> None:
        """Move where the transfer stops. At or before its position it stops now."""

    def cancel(self, request_id: int, position: int) -> None:
        """Close the transfer now; no further callbacks for it. ``position``: how far the
        session took its reports. Bytes it delivered past that (reports still on their way)
        are not its own: the next source there writes them again."""

    def release(self, source_id: str) -> None:
        """Give up a negotiating or ready Soulseek source without fetching anything."""

    def credited_until(self, request_id: int) -> int | None:
        """How far the transfer's reports may still be credited to it, read when one is
        handled (None: as far as they go). A stream that skipped bytes another wrote first,
        then discarded, is cut where they begin; a report it sent before the cut may still
        be on its way, and must not credit it with them."""


class PartFile(Protocol):
    """The file being assembled. First write of a byte wins until it is discarded."""

    def sha256(self) -> str: ...

    def block_digests(self, block_size: int) -> dict[int, str]: ...

    def digest(self, start: int, end: int) -> str:
        """Digest of bytes [start, end) as assembled (same hash as the block digests)."""

    def discard(self, start: int, end: int) -> None:
        """Forget bytes [start, end): they were invalidated and will be fetched again."""


class FormatScan(Protocol):
    """What a format check found in a span of the file."""

    @property
    def checked_to(self) -> int:
        """Whole units (frames) were judged up to here: a unit start once ``synced``."""

    @property
    def synced(self) -> bool:
        """``checked_to`` is a confirmed unit start (else nothing was confirmed yet)."""

    @property
    def bad(self) -> Sequence[tuple[int, int]]:
        """Units that fail the format's own check, as [start, end) file offsets."""


class FormatCheck(Protocol):
    """The file format's own check of bytes as assembled (FLAC: each frame's CRC-16), so one
    source's bytes can be judged without a reference or a second opinion."""

    @property
    def lookahead(self) -> int:
        """Bytes past a unit's end the check must see to know it ends there (FLAC: the next
        frame's header, at most 16 bytes)."""

    def scan(self, start: int, end: int, synced: bool) -> FormatScan:
        """Judge the whole units in the part file's bytes [start, end); ``synced``: ``start``
        is known to be a unit start."""

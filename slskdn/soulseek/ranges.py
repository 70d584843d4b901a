"""Plain records of ranged transfers: what callers get back (no aioslsk types, no handles)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class RangeError(StrEnum):
    """Why a range ended before its end. The values are stable (they go into events)."""

    REJECTED = "rejected"  # the peer refused: file not shared, blocked, ...
    UNREACHABLE = "unreachable"  # the queue request could not be delivered to the peer
    START_TIMEOUT = "start_timeout"  # the peer did not start the transfer in time
    READY_TIMEOUT = "ready_timeout"  # nobody chose a range for a ready source in time
    SIZE_MISMATCH = "size_mismatch"  # the peer announced another size than expected
    BAD_RANGE = "bad_range"  # the range does not fit the file the peer announced
    PROTOCOL_ERROR = "protocol_error"  # the peer sent an oversized or malformed message
    PEER_CLOSED = "peer_closed"  # the connection closed before the range's end
    STALLED = "stalled"  # no byte arrived for stall_timeout seconds
    WRITE_ERROR = "write_error"  # the part file could not be written
    CANCELLED = "cancelled"  # we closed it (cancel / release / session stop)
    INTERNAL = "internal_error"  # a bug in slskdn or aioslsk (logged with its traceback)


class RangeConflictError(RuntimeError):
    """A transfer of this file from this peer is already running: Soulseek allows one."""


class RangeStateError(RuntimeError):
    """The call does not fit the transfer's phase (e.g. a second ``request``)."""


@dataclass(frozen=True)
class RangeProgress:
    """Progress of one stream. ``bytes_so_far`` and ``elapsed_s`` give its throughput;
    ``blocks`` are (index, SHA-256 hex) of whole integrity blocks completed since the last
    report (empty unless a block size was given)."""

    bytes_so_far: int
    elapsed_s: float
    position: int  # absolute file offset reached
    blocks: Sequence[tuple[int, str]] = field(default=())


@dataclass(frozen=True)
class RangeOutcome:
    """How a ranged transfer ended. ``bytes_written`` bytes were received for
    [offset, offset + bytes_written) of the part file, whatever the error, and are there: written
    by this stream, or — ``bytes_skipped`` of them, only with a shared ``WrittenRanges`` — by
    another stream first (or held back past the limit the swarm set)."""

    username: str
    remote_path: str
    offset: int | None  # None: the stream never started
    end: int | None  # the end in force when it finished (after any set_end)
    bytes_written: int
    waited_s: float  # from the request to the first offset sent (queue + handshake)
    duration_s: float  # streaming time: offset sent → connection closed
    file_size: int | None  # as the uploader announced it
    sha256: str | None  # of the bytes written (None when none were)
    error: RangeError | None = None
    reason: str = ""
    bytes_skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def throughput(self) -> float:
        """Bytes per second while streaming (0 when nothing streamed)."""
        return self.bytes_written / self.duration_s if self.duration_s > 0 else 0.0

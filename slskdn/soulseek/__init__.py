"""The Soulseek adapter, on aioslsk (pinned exactly: private hooks, see docs/soulseek.md).

Modules, one concept each: ``client`` (``SoulseekSession``), ``ranged`` (the transfer manager
with byte ranges and the ticket fix), ``transfer`` (one ranged transfer's handle),
``partfile`` (the data path into the part file), ``ranges`` and ``records`` (plain results),
``tickets``, ``paths`` (untrusted remote paths), ``network`` (aioslsk plumbing), ``server``
(the loopback server), ``sandbox`` and ``misbehaviour`` (a local network for tests and demos).
"""

from .client import SessionConfig, SessionError, SoulseekSession
from .paths import UnsafeRemotePath, safe_local_path
from .ranges import (
    RangeConflictError,
    RangeError,
    RangeOutcome,
    RangeProgress,
    RangeStateError,
)
from .records import (
    LoggedIn,
    LoggedOut,
    PeerStatusChanged,
    SearchResult,
    SearchResultsReceived,
    SessionEvent,
    SharedFile,
)
from .transfer import PeerTransfer, Phase

__all__ = [
    "LoggedIn",
    "LoggedOut",
    "PeerStatusChanged",
    "PeerTransfer",
    "Phase",
    "RangeConflictError",
    "RangeError",
    "RangeOutcome",
    "RangeProgress",
    "RangeStateError",
    "SearchResult",
    "SearchResultsReceived",
    "SessionConfig",
    "SessionError",
    "SessionEvent",
    "SharedFile",
    "SoulseekSession",
    "UnsafeRemotePath",
    "safe_local_path",
]

"""One sandbox peer: its spec, its upload cap, and the session that serves its share.

Used by ``sandbox`` for peers on the caller's loop and by ``sandbox_host`` for peers in their
own processes, so both kinds behave the same.

Upload caps. aioslsk's limiter is a bucket holding up to one second of the cap, full when the
first upload starts and refilled whenever the peer idles: a peer "capped" at 8 MiB/s sends its
first 8 MiB as fast as the CPU allows. ``upload_burst_s`` replaces it with a plain token bucket
holding one chunk (≤ 64 KiB) plus that many seconds of the cap, at least ``SLACK_S``: aioslsk's
uploader polls the bucket every 10 ms (later when its loop is busy), and tokens earned while it
sleeps must fit, or the peer sends less than its cap (a one-chunk bucket gave 5.8 of 8 MiB/s).
Benchmarks use it, because their lower bound must credit every peer with its whole bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aioslsk.network.rate_limiter import LimitedRateLimiter

from .client import SessionConfig, SoulseekSession
from .misbehaviour import MisbehavingTransferManager, Misbehaviour
from .uploads import ReplyFirstUploads

PASSWORD = "sandbox"  # every sandbox account; the server registers users on first login
AIOSLSK_BURST_S = 1.0  # aioslsk's own limiter: a bucket of one second of the cap
SLACK_S = 0.05  # the least a StrictRateLimiter saves up beyond one chunk


@dataclass(frozen=True)
class PeerSpec:
    name: str
    files: Sequence[str] | None = None  # paths of SandboxFiles; None: all of them
    upload_kbps: int = 0  # KiB/s; 0 = unlimited
    upload_slots: int = 2
    misbehaviour: Misbehaviour = field(default_factory=Misbehaviour)
    ticket_start: int | None = None  # pin to reproduce aioslsk's fixed ticket sequence
    # None: aioslsk's limiter (1 s bucket); a number: a token bucket of that many seconds.
    upload_burst_s: float | None = None

    @property
    def burst_bytes(self) -> int:
        """The most this peer can send at once, beyond its cap (0 when uncapped)."""
        if self.upload_kbps <= 0:
            return 0
        if self.upload_burst_s is None:
            return int(self.upload_kbps * 1024 * AIOSLSK_BURST_S)
        return StrictRateLimiter(self.upload_kbps, self.upload_burst_s).capacity

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files) if self.files is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PeerSpec:
        quirks = dict(data.get("misbehaviour") or {})
        if quirks.get("corrupt") is not None:
            quirks["corrupt"] = tuple(quirks["corrupt"])
        return cls(**{**data, "misbehaviour": Misbehaviour(**quirks)})


class StrictRateLimiter(LimitedRateLimiter):
    """A token bucket: ``limit`` bytes per second, at most ``capacity`` saved up."""

    bucket: int

    def __init__(self, limit_kbps: int, burst_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limit_kbps)
        self.capacity = self.max_chunk_size + int(self.limit_bps * max(burst_s, SLACK_S))
        self._clock = clock
        self.last_refill = clock()
        self._fraction = 0.0

    def refill(self) -> bool:
        now = self._clock()
        # aioslsk's refill adds (limit - bucket) × dt, which is not a rate; and it truncates.
        earned = self.limit_bps * (now - self.last_refill) + self._fraction
        whole = int(earned)
        self._fraction = earned - whole
        self.bucket = min(self.capacity, self.bucket + whole)
        self.last_refill = now
        return self.is_empty()

    def add_tokens(self, token_amount: int) -> None:
        self.bucket = min(self.capacity, self.bucket + token_amount)


class SandboxTransferManager(ReplyFirstUploads, MisbehavingTransferManager):
    """A sandbox peer's transfers: ranged, misbehaving on demand, no lost upload replies."""


async def start_peer(spec: PeerSpec, server: tuple[str, int], share: Path, downloads: Path, *,
                     requeue_interval: float) -> SoulseekSession:
    """Log ``spec`` in to the sandbox server, sharing ``share`` (already filled)."""
    host, port = server
    config = SessionConfig(
        host=host, port=port, username=spec.name, password=PASSWORD, download_dir=downloads,
        share_dirs=[share], listen_host=host, upload_slots=spec.upload_slots,
        upload_speed_kbps=spec.upload_kbps, ticket_start=spec.ticket_start,
        requeue_interval=requeue_interval)
    session = SoulseekSession(config, manager_factory=SandboxTransferManager,
                              misbehaviour=spec.misbehaviour)
    await session.start()
    if spec.upload_kbps > 0 and spec.upload_burst_s is not None:
        # Before any peer connection exists, so every file connection picks this one up.
        session.client.network._upload_rate_limiter = StrictRateLimiter(
            spec.upload_kbps, spec.upload_burst_s)
    return session


def remote_paths(session: SoulseekSession) -> dict[str, str]:
    """Absolute local path → the name the network sees (``@@alias\\dir\\file``)."""
    return {item.get_absolute_path(): str(item.get_remote_path())
            for directory in session.client.shares.shared_directories
            for item in directory.items}

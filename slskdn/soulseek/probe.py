"""Probing candidates over real Soulseek transfers: the network side of
``domain.candidate_probes``.

Each ``ProbeRequest`` is fetched as ranged downloads (``SoulseekSession.download_range``) of
its ranges into a scratch part file, and the SHA-256 of each range (the ``RangeOutcome``'s
digest of exactly the bytes written) becomes the probe's result. Probes of one peer run one
after the other (an uploader serves a user one file at a time, and one transfer of a file per
peer is all Soulseek allows); different peers are probed at once, at most ``concurrency`` at
a time. A probe that does not finish within ``timeout_s`` (queue wait included) is cancelled.
Every failure becomes a ``ProbeResult`` with a reason; nothing is retried (the budget counts
each probe once).

Runs on the session's asyncio loop. Scratch files live in a hidden directory inside the
download directory and are removed afterwards — unless the caller passes its own ``keep_dir``:
then each successful probe's part file stays there (``probe_part``: the probed ranges at their
offsets, a sparse file), so the download can start from those bytes instead of fetching them
again; the caller removes the directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slskdn.actors.system import ActorSystem
from slskdn.domain.candidate_probes import (
    PeerSpend,
    ProbeBudget,
    ProbeRequest,
    ProbeResult,
    plan_probes,
    refine,
)
from slskdn.domain.candidates import CandidateGroup, Offer
from slskdn.domain.ids import peer_id
from slskdn.domain.peer import Peer
from slskdn.domain.swarm.decisions import SOULSEEK
from slskdn.logs import get_logger

from .client import SoulseekSession
from .ranges import RangeConflictError
from .records import SearchResult

log = get_logger(__name__)


@dataclass(frozen=True)
class ProbeSettings:
    """``timeout_s`` bounds one probe (all its ranges, queue waits included),
    ``stall_timeout_s`` one range without a byte, ``deadline_s`` the whole probing."""

    timeout_s: float = 45.0
    stall_timeout_s: float = 15.0
    deadline_s: float = 120.0
    concurrency: int = 8

    def __post_init__(self) -> None:
        if min(self.timeout_s, self.stall_timeout_s, self.deadline_s) <= 0:
            raise ValueError("probe settings: timeouts must be positive")
        if self.concurrency < 1:
            raise ValueError("probe settings: concurrency must be at least 1")


@dataclass(frozen=True)
class ProbedCandidates:
    """Groups after probing (best first), the probes run, and what each peer spent."""

    groups: list[CandidateGroup]
    results: tuple[ProbeResult, ...]
    skipped: tuple[tuple[Offer, str], ...]
    spent: dict[str, PeerSpend]
    seconds: float
    parts: dict[tuple[str, str, int], Path] = field(default_factory=dict)  # kept probe parts

    @property
    def failures(self) -> list[ProbeResult]:
        return [r for r in self.results if not r.ok]


def offers_of(results: Sequence[SearchResult]) -> list[Offer]:
    """Search results as domain offers (with the attributes quality ranking uses)."""
    return [Offer(r.username, r.path, r.size, r.speed, r.free_slot, r.queue_length, r.bitrate,
                  r.sample_rate, r.bit_depth, r.duration) for r in results]  # fmt: skip


def probe_part(directory: Path, key: tuple[str, str, int]) -> Path:
    """Where the probe of the offer ``key`` (username, path, size) keeps its bytes."""
    name = hashlib.sha256("\0".join(map(str, key)).encode()).hexdigest()[:24]
    return directory / f"probe-{name}.part"


async def probe_offers(session: SoulseekSession, requests: Sequence[ProbeRequest],
                       settings: ProbeSettings | None = None,
                       keep_dir: Path | None = None) -> list[ProbeResult]:
    """Run ``requests``; a result for each probe that started, in request order.

    After ``settings.deadline_s`` the probes still running fail with a timeout and those not
    yet started are left out (not probed: no fault of their peer). With ``keep_dir`` the part
    file of each successful probe stays there (``probe_part``).
    """
    settings = settings or ProbeSettings()
    if not requests:
        return []
    download_dir = Path(session.config.download_dir)
    download_dir.mkdir(parents=True, exist_ok=True)
    scratch = keep_dir or Path(tempfile.mkdtemp(prefix=".probes-", dir=download_dir))
    by_peer: dict[str, list[int]] = {}
    for index, request in enumerate(requests):
        by_peer.setdefault(request.username, []).append(index)
    results: dict[int, ProbeResult] = {}
    started: dict[int, float] = {}
    slots = asyncio.Semaphore(settings.concurrency)

    async def probe_peer(indices: list[int]) -> None:
        async with slots:
            for index in indices:
                started[index] = time.monotonic()
                part = probe_part(scratch, requests[index].key)
                results[index] = await probe_one(session, requests[index], part, settings,
                                                 keep=keep_dir is not None)  # fmt: skip

    try:
        async with asyncio.timeout(settings.deadline_s):
            await asyncio.gather(*(probe_peer(indices) for indices in by_peer.values()))
    except TimeoutError:
        now = time.monotonic()
        for index in started.keys() - results.keys():
            r = requests[index]
            reason = f"timeout: probing stopped after {settings.deadline_s:g} s"
            log.warning("probe failed", peer=r.username, path=r.path, reason=reason)
            results[index] = ProbeResult(r.username, r.path, r.size, None, reason,
                                         seconds=now - started[index])  # fmt: skip
    finally:  # (a probe that failed or was cut removed its own part file)
        if keep_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return [results[i] for i in sorted(results)]


async def probe_one(session: SoulseekSession, request: ProbeRequest, part: Path,
                    settings: ProbeSettings, keep: bool = False) -> ProbeResult:
    """Fetch and hash ``request``'s ranges into ``part`` (removed afterwards, unless ``keep``
    and the probe succeeded)."""
    plog = log.bind(peer=request.username, path=request.path, size=request.size)

    started = time.monotonic()

    def failed(reason: str) -> ProbeResult:
        plog.warning("probe failed", reason=reason)
        return ProbeResult(request.username, request.path, request.size, None, reason,
                           seconds=time.monotonic() - started)

    digests: list[str] = []
    ok = False
    try:
        async with asyncio.timeout(settings.timeout_s):
            for start, end in request.ranges:
                outcome = await session.download_range(
                    request.username, request.path, start, end, part,
                    expected_size=request.size, start_timeout=settings.timeout_s,
                    stall_timeout=settings.stall_timeout_s)  # fmt: skip
                if outcome.error is not None:
                    return failed(f"{outcome.error.value}: {outcome.reason}")
                if outcome.bytes_written != end - start or outcome.sha256 is None:
                    return failed(f"short probe: {outcome.bytes_written} of {end - start} "
                                  f"bytes at offset {start}")
                digests.append(outcome.sha256)
        ok = True
    except TimeoutError:
        return failed(f"timeout: no complete probe within {settings.timeout_s:g} s")
    except RangeConflictError as exc:
        return failed(f"busy: {exc}")
    finally:
        if not (keep and ok):
            part.unlink(missing_ok=True)
    plog.debug("probe done", digests=[d[:12] for d in digests])
    return ProbeResult(request.username, request.path, request.size, tuple(digests),
                       seconds=time.monotonic() - started)


async def probe_candidates(
    session: SoulseekSession,
    groups: Sequence[CandidateGroup],
    budget: ProbeBudget | None = None,
    settings: ProbeSettings | None = None,
    spent: dict[str, PeerSpend] | None = None,
    first: Offer | None = None,
    keep_dir: Path | None = None,
) -> ProbedCandidates:
    """Plan probes for ``groups`` within ``budget`` (``first`` ahead of its group, see
    ``plan_probes``), run them, and split the groups. With ``keep_dir``, ``parts`` holds the
    part file of every successful probe."""
    started = time.monotonic()
    plan = plan_probes(groups, budget, spent, first)
    results = await probe_offers(session, plan.requests, settings, keep_dir)
    parts = {} if keep_dir is None else {r.key: probe_part(keep_dir, r.key)
                                         for r in results if r.ok}  # fmt: skip
    refined = refine(groups, results)
    seconds = time.monotonic() - started
    log.info("candidates probed", probes=len(results),
             failed=sum(1 for r in results if not r.ok), skipped=len(plan.skipped),
             groups=len(refined), confirmed=sum(1 for g in refined if g.confirmed),
             seconds=round(seconds, 3))  # fmt: skip
    return ProbedCandidates(refined, tuple(results), plan.skipped, dict(plan.spent), seconds,
                            parts)


def record_probe_failures(actors: ActorSystem, results: Sequence[ProbeResult]) -> int:
    """Each failed probe as an observation of its peer in the event log (``Peer.TimedOut``
    for a timeout, ``Peer.ErrorObserved`` with code ``probe`` otherwise), so reputation sees
    it. Told, not awaited: ``actors.flush()`` commits them. Returns how many were recorded."""
    failed = [r for r in results if not r.ok]
    for r in failed:
        create = _peer_creator(r.username)
        if r.reason.startswith(("timeout", "start_timeout")):
            actors.tell(peer_id(r.username, SOULSEEK), Peer.record_timeout, create=create,
                        waited_ms=round(r.seconds * 1000))
        else:
            actors.tell(peer_id(r.username, SOULSEEK), Peer.record_error, create=create,
                        error_code="probe", reason=f"probe of {r.path}: {r.reason}")
    return len(failed)


def _peer_creator(username: str) -> Callable[..., Peer]:
    return lambda id, at: Peer.create(id=id, at=at, username=username, source_kind=SOULSEEK)

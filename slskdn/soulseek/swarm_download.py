"""One file from several Soulseek peers at once, through the engine (swarm + actors + log).

``download_multi_source`` does for real peers what ``simulation.through_engine.simulate`` does
for simulated ones: a Transfer aggregate with the sources, a ``SwarmSession`` over a
``SoulseekRangeTransport`` and a ``DiskPartFile``, a ``SwarmDriver`` actor, the listener wired
to it (``tell`` from the loop thread), ticks every rebalance interval on the engine's loop with
``time.monotonic()`` (the transport's clock), and the actors flushed at the end. On success the
part file becomes ``dest_path``; on failure it is kept (the reason says why).

It blocks its caller until the swarm finishes, so call it from a thread other than the
engine's loop thread (the Soulseek session must run on that loop).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from slskdn.actors.swarm_driver import SwarmDriver, SwarmListener
from slskdn.actors.swarm_events import SourcePeer, SwarmRecorder
from slskdn.audio.flac_md5 import audio_md5_matches
from slskdn.audio.frame_check import FlacFrameCheck
from slskdn.domain.ids import new_id, peer_id
from slskdn.domain.swarm.decisions import SOULSEEK, Decision
from slskdn.domain.swarm.resume import ResumeState
from slskdn.domain.swarm.session import SessionConfig, SwarmOutcome, SwarmSession
from slskdn.domain.swarm.tracking import SourceSpec
from slskdn.domain.transfer import Transfer
from slskdn.domain.transfer_progress import KeptBytes
from slskdn.engine import Engine
from slskdn.logs import get_logger

from .client import SoulseekSession
from .play_head import PlayHead
from .swarm_transport import DiskPartFile, SoulseekRangeTransport, StreamRecord

log = get_logger(__name__)


@dataclass(frozen=True)
class SwarmDownloadResult:
    """What a multi-source download did. ``bytes_by_peer``: bytes each username delivered
    that the swarm counted (duplicates included, bytes past a cut excluded)."""

    transfer_id: UUID
    ok: bool
    sha256: str | None
    seconds: float
    bytes_by_peer: dict[str, int]
    part_path: Path
    dest_path: Path | None  # set when the file was moved into place
    verified: bool = False  # the whole-file check against a known SHA-256 passed
    convicted: dict[str, str] = field(default_factory=dict)  # username -> reason
    reason: str | None = None  # why it failed (None when ok)
    delivered_bytes: int = 0
    # What happened when (``time.monotonic()``; ``started`` is t = 0): every stream the
    # transport opened, and every decision of the swarm. For timelines and benchmarks.
    started: float = 0.0
    streams: tuple[StreamRecord, ...] = ()
    decisions: tuple[tuple[float, Decision], ...] = ()


def download_multi_source(
    engine: Engine,
    session: SoulseekSession,
    sources: Sequence[tuple[str, str]],
    size: int,
    dest_path: Path,
    config: SessionConfig | None = None,
    *,
    expected_sha256: str | None = None,
    part_path: Path | None = None,
    time_limit: float = 3600.0,
    start_timeout: float | None = None,
    stall_timeout: float = 60.0,
    filename: str | None = None,
    job_id: UUID | None = None,
    stop: threading.Event | None = None,
    resume_transfer: UUID | None = None,
    kept: KeptBytes | None = None,
    on_transfer: Callable[[UUID], None] | None = None,
    play_head: PlayHead | None = None,
) -> SwarmDownloadResult:
    """Fetch the ``size``-byte file that each (username, remote path) in ``sources`` shares.

    ``dest_path`` must lie inside the session's download directory; the part file is
    ``dest_path`` + ``.part`` unless given. ``expected_sha256`` (when known) lets the swarm
    check the whole file and trace corruption to a peer; without it only disagreements between
    peers on overlapping blocks can expose a corrupt peer.

    ``stop`` interrupts the download without ending the transfer: it stays active in the log
    and its part file is kept, to be resumed by passing ``resume_transfer`` (its id) and
    ``kept`` (``domain.transfer_progress.kept_bytes`` of its events) — those bytes are not
    fetched again. ``on_transfer`` is told the transfer id as soon as it exists.

    ``play_head``: playback mode — the bytes a player at that position needs next come first
    (priority zones), and the swarm follows the head wherever it is moved while it runs.
    """
    actors, loop_thread = engine.actors, engine.loop
    if actors is None or loop_thread is None:
        raise RuntimeError("the engine is not started")
    if _on_loop(loop_thread.loop):
        raise RuntimeError("download_multi_source blocks: do not call it on the engine's loop")
    if size <= 0 or not sources:
        raise ValueError("need a positive size and at least one source")
    dest_path = _inside(Path(session.config.download_dir), Path(dest_path))
    part_path = Path(part_path) if part_path is not None else dest_path.with_name(
        dest_path.name + ".part")
    config = config or SessionConfig()
    if play_head is not None:
        config = replace(config, playback_bitrate_kbps=play_head.bitrate_kbps)

    users = list(dict.fromkeys(user for user, _ in sources))  # one source per peer
    remote = {user: path for user, path in reversed(list(sources))}
    remote = {user: remote[user] for user in users}
    peers = {user: SourcePeer(peer_id(user, SOULSEEK), user, SOULSEEK) for user in users}
    name = filename or dest_path.name
    sources_record = [{"peer_id": str(p.peer_id), "username": p.username, "kind": p.kind,
                       "path": remote[user]} for user, p in peers.items()]  # fmt: skip
    if resume_transfer is None:
        transfer_id = new_id(engine.clock())
        actors.command(
            transfer_id, Transfer.add_sources,
            create=lambda id, at: Transfer.create(id=id, at=at, filename=name, size_bytes=size,
                                                  job_id=job_id),
            sources=sources_record,
        ).result(timeout=60)  # fmt: skip
        actors.command(transfer_id, Transfer.choose_destination, dest_path=str(dest_path),
                       part_path=str(part_path)).result(timeout=60)
    else:
        transfer_id = resume_transfer
        actors.command(transfer_id, Transfer.add_sources, sources=sources_record).result(60)
        kept_count = kept.kept if kept else 0
        actors.command(transfer_id, Transfer.resume, kept_bytes=kept_count,
                       reason=f"{kept_count} of {size} bytes kept from the part file"
                       ).result(timeout=60)  # fmt: skip
    if on_transfer is not None:
        on_transfer(transfer_id)
    tlog = log.bind(transfer_id=str(transfer_id))

    part = DiskPartFile(part_path, size)
    part.prepare()
    transport = SoulseekRangeTransport(
        session, loop_thread.loop, {user: (user, remote[user]) for user in users}, part,
        block_size=config.scheduler.block_size, start_timeout=start_timeout,
        stall_timeout=stall_timeout, transfer_id=str(transfer_id))
    specs = [SourceSpec(user, SOULSEEK, peer_id=str(peers[user].peer_id)) for user in users]
    # Soulseek tells nobody a file's SHA-256; a FLAC checks itself (decoded audio against the
    # MD5 in STREAMINFO), and a failure is traced to the source that sent the bad bytes.
    # Each frame's CRCs are judged as it arrives too (domain/swarm/frames), so a liar is
    # found while it sends, with no second opinion.
    content_check = format_check = None
    if (filename or dest_path.name).lower().endswith(".flac"):
        format_check = FlacFrameCheck(part.read)
        if expected_sha256 is None:
            content_check = partial(audio_md5_matches, part_path)
    resume = None
    if kept is not None and kept.kept:
        # The data path must never overwrite kept bytes; the session marks them in its range
        # map and discards (here: forgets again) those of peers that are no longer sources.
        for a, b in [*kept.verified, *(s for spans in kept.received.values() for s in spans)]:
            part.restore(a, b)
        resume = ResumeState(verified=kept.verified, received=kept.received)
    swarm = SwarmSession(size, specs, transport, part, config, expected_sha256=expected_sha256,
                         content_check=content_check, resume=resume,
                         format_check=format_check)
    driver = SwarmDriver.start(swarm, SwarmRecorder(transfer_id, peers), actors)
    listener = SwarmListener(driver)
    transport.listener = listener
    finished = driver.proxy().finished.get()
    interval = config.scheduler.rebalance_interval
    tlog.info("multi-source download started", peers=users, size=size, part=str(part_path))

    def tick() -> None:  # on the loop thread: tell only
        if not finished.done():
            listener.call("tick", time.monotonic())
            loop_thread.loop.call_later(interval, tick)

    started = time.monotonic()
    outcome: SwarmOutcome | None = None
    failure: str | None = None
    try:
        listener.call("start", started)
        if play_head is not None:
            # Where it is now (before any source is ready), then wherever it is moved.
            listener.call("set_play_position", play_head.position, started)
            play_head.follow(
                lambda offset: listener.call("set_play_position", offset, time.monotonic()))
        loop_thread.loop.call_soon_threadsafe(
            lambda: loop_thread.loop.call_later(interval, tick))
        try:
            outcome = _wait(finished, time_limit, stop)
        except FutureTimeout:
            failure = f"not finished within {time_limit:.0f} s"
        except Interrupted:
            failure = INTERRUPTED
        except Exception as exc:  # the driver crashed
            failure = f"swarm driver failed: {exc!r}"
    finally:
        if play_head is not None:
            play_head.follow(None)
        driver.stop()
        try:
            loop_thread.submit(transport.close()).result(timeout=30)
        except Exception as exc:  # never hide the download's own result behind this
            tlog.warning("could not close the transport cleanly", error=repr(exc))
    seconds = time.monotonic() - started
    if outcome is None or not outcome.complete:
        failure = failure or (outcome.failure if outcome else None) or "swarm did not complete"
        if outcome is None and failure != INTERRUPTED:  # the driver recorded no end
            actors.tell(transfer_id, Transfer.abort, reason=failure)
    sha = None
    if failure is None:
        sha = part.sha256()  # after every stream closed: what is really on disk
        assert outcome is not None
        if outcome.sha256 and sha != outcome.sha256:
            failure = "the part file changed after the swarm verified it"
        elif expected_sha256 and sha != expected_sha256:
            failure = f"SHA-256 {sha} differs from the expected {expected_sha256}"
    actors.flush([transfer_id, *(p.peer_id for p in peers.values())])
    part.close()
    if failure is not None and failure != INTERRUPTED and engine.store is not None:
        failure += _source_failures(engine.store.events_of(transfer_id), peers)

    served = {user: sum(b - a for a, b in ranges)
              for user, ranges in swarm.served_ranges.items()}
    convicted = dict(outcome.convicted) if outcome else {}
    moved: Path | None = None
    if failure is None:
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part_path, dest_path)
        moved = dest_path
        tlog.info("multi-source download done", seconds=round(seconds, 3), sha256=sha,
                  bytes_by_peer=served, convicted=convicted)
    else:
        tlog.warning("multi-source download failed; part file kept", reason=failure,
                     part=str(part_path), bytes_by_peer=served)
    return SwarmDownloadResult(
        transfer_id=transfer_id, ok=failure is None, sha256=sha, seconds=seconds,
        bytes_by_peer=served, part_path=part_path, dest_path=moved,
        verified=bool(outcome and outcome.verified), convicted=convicted, reason=failure,
        delivered_bytes=outcome.delivered_bytes if outcome else 0, started=started,
        streams=tuple(transport.timeline), decisions=tuple(swarm.decisions))


def _source_failures(events: Sequence[Any], peers: dict[str, SourcePeer]) -> str:
    """" (user: last failure; …)" — so a download that ran out of sources says why."""
    names = {str(p.peer_id): user for user, p in peers.items()}
    last = {names.get(e.peer_id, e.peer_id): e.reason for e in events
            if isinstance(e, Transfer.RangeFailed)}  # fmt: skip
    return f" ({'; '.join(f'{u}: {r}' for u, r in last.items())})" if last else ""


INTERRUPTED = "interrupted; the transfer stays active and can be resumed"


class Interrupted(Exception):
    pass


def _wait(finished: Future[SwarmOutcome], limit: float,
          stop: threading.Event | None) -> SwarmOutcome:
    deadline = time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FutureTimeout
        try:
            return finished.result(timeout=min(left, 0.25) if stop is not None else left)
        except FutureTimeout:
            if stop is not None and stop.is_set():
                raise Interrupted from None


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _inside(directory: Path, path: Path) -> Path:
    """``path`` resolved; refuses anything outside ``directory``."""
    root = directory.resolve()
    target = (path if path.is_absolute() else root / path).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"{path} is outside the download directory {root}")
    return target

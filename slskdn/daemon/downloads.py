"""The download service: requests in, multi-source downloads out, jobs in the log.

One service per Soulseek session. A request becomes a ``Job`` (kind ``track``) at once —
durable before ``submit`` returns — and runs on one of ``max_parallel`` worker threads:
look the file up (search), create its ``Transfer`` (sources with their remote paths, the
destination), download it through the swarm, and end the job. A transfer interrupted by a
shutdown or a crash stays active in the log; ``resume_unfinished`` picks every such transfer
up again, keeping the bytes its events say are on disk (``domain.transfer_progress``). A
request interrupted before its transfer existed (while searching) leaves a running job with no
transfer: it is run again from the job's target, as the user asked for it. One file is fetched
by one download at a time: a second that lands on a destination held by another fails,
naming it (``_claim``).

The CLI uses it for one request in its own session; the daemon keeps one for its lifetime
and serves it over HTTP.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from slskdn.domain.candidates import playback_kbps
from slskdn.domain.ids import peer_id
from slskdn.domain.job import Job
from slskdn.domain.swarm.decisions import SOULSEEK
from slskdn.domain.transfer import Transfer
from slskdn.domain.transfer_progress import KeptBytes, kept_bytes
from slskdn.engine import Engine
from slskdn.logs import get_logger
from slskdn.projections.activity import job_activity
from slskdn.projections.transfers import transfers as transfers_table
from slskdn.soulseek.client import SoulseekSession
from slskdn.soulseek.lookup import (
    LookupFailed,
    LookupInterrupted,
    ProbedBytes,
    group_for_file,
    group_for_query,
)
from slskdn.soulseek.play_head import PlayHead, part_file_kbps
from slskdn.soulseek.swarm_download import SwarmDownloadResult, download_multi_source
from slskdn.swarm_settings import session_config

from .requests import DownloadRequest, PlayPosition

log = get_logger(__name__)

CANCELLED = "cancelled by user"


@dataclass
class Download:
    """One request as this process knows it; ``state`` is what the user sees."""

    job_id: UUID
    request: DownloadRequest | None  # None for a transfer resumed from the log
    state: str = "queued"  # queued, searching, downloading, completed, failed, interrupted
    name: str = ""
    size: int = 0
    transfer_id: UUID | None = None
    path: str | None = None
    reason: str | None = None
    result: SwarmDownloadResult | None = None
    resumed_bytes: int = 0
    probe: dict[str, Any] | None = None  # who a probed query left out, and why
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    play_head: PlayHead | None = None  # playback mode, once the file is known
    claimed: Path | None = None  # the destination this download holds (see ``_claim``)

    def record(self, bytes_received: int | None = None) -> dict[str, Any]:
        r = self.result
        return {
            "job_id": str(self.job_id),
            "state": self.state,
            "ok": self.state == "completed",
            "name": self.name,
            "size": self.size,
            "transfer_id": str(self.transfer_id) if self.transfer_id else None,
            "path": self.path,
            "bytes_received": bytes_received,
            "resumed_bytes": self.resumed_bytes,
            "sha256": r.sha256 if r else None,
            "seconds": round(r.seconds, 3) if r else None,
            "bytes_by_peer": r.bytes_by_peer if r else {},
            "convicted": r.convicted if r else {},
            "reason": self.reason,
            "probe": self.probe,
            "play": None if self.play_head is None else {
                "offset": self.play_head.position,
                "seconds": round(self.play_head.seconds, 3),
                "bitrate_kbps": round(self.play_head.bitrate_kbps, 1),
            },
        }


class DownloadService:
    def __init__(self, engine: Engine, session: SoulseekSession, *,
                 max_parallel: int | None = None, time_limit: float = 6 * 3600.0) -> None:
        if engine.loop is None or engine.actors is None:
            raise RuntimeError("the engine is not started")
        self.engine = engine
        self.session = session
        self.time_limit = time_limit
        workers = max_parallel or engine.settings.soulseek.max_parallel_downloads
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slskdn-dl")
        self._downloads: dict[UUID, Download] = {}
        # Destination -> the download fetching it: two swarms writing one part file would mix
        # their bytes and each count the other's as its own.
        self._claims: dict[Path, UUID] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._db = engine.location.create_engine()

    # -- asking ----------------------------------------------------------------

    def submit(self, request: DownloadRequest, origin: str = "api") -> Download:
        """Record the job (durable on return) and queue the download."""
        job_id = self.engine.create_job("track", request.target, origin=origin,
                                        options=request.options).result(60)
        self.engine.command(job_id, Job.start).result(60)
        return self._queue(Download(job_id, request), self._run_request)

    def run(self, request: DownloadRequest, origin: str = "cli") -> Download:
        """``submit`` and wait for the end."""
        download = self.submit(request, origin)
        download.done.wait()
        return download

    def get(self, job_id: UUID) -> Download | None:
        with self._lock:
            return self._downloads.get(job_id)

    def all(self) -> list[Download]:
        with self._lock:
            return list(self._downloads.values())

    def status(self, job_id: UUID) -> dict[str, Any] | None:
        download = self.get(job_id)
        if download is None:
            return None
        return download.record(self._bytes_received(download.transfer_id))

    def cancel(self, job_id: UUID) -> bool:
        """Stop a download and cancel its job; False when it is not running here."""
        download = self.get(job_id)
        if download is None or download.done.is_set():
            return False
        download.reason = CANCELLED
        download.stop.set()
        return True

    def seek(self, job_id: UUID, position: PlayPosition) -> dict[str, Any]:
        """Move a playback download's play head. KeyError: no such download here;
        ValueError: it is not in playback mode, or not downloading (yet, or any more)."""
        download = self.get(job_id)
        if download is None:
            raise KeyError(f"no download {job_id} in this daemon")
        asked = download.request is not None and download.request.play
        if download.play_head is None and not asked:
            raise ValueError(f"download {job_id} is not in playback mode (ask with play)")
        head = download.play_head
        if head is None or download.done.is_set() or download.state != "downloading":
            raise ValueError(f"download {job_id} is {download.state}: no play head to move")
        if position.seconds is not None:
            offset = head.offset_of(position.seconds)
        else:
            assert position.offset is not None
            offset = position.offset
        head.seek_offset(min(offset, download.size))  # past the end: the end
        log.info("play head moved", job_id=str(job_id), offset=head.position)
        return download.record()

    def resume_unfinished(self) -> list[Download]:
        """Queue every transfer the log says is unfinished and has a destination."""
        self.engine.catch_up()
        found = []
        with self._db.connect() as conn:
            rows = conn.execute(
                sa.select(transfers_table.c.transfer_id, transfers_table.c.job_id)
                .where(transfers_table.c.status == "active")
                .where(transfers_table.c.dest_path.is_not(None))
                .order_by(transfers_table.c.updated_at)
            ).all()
            searching = conn.execute(
                sa.select(job_activity.c.job_id)
                .where(job_activity.c.kind == "track")
                .where(job_activity.c.status == "running")
                .where(job_activity.c.transfers == 0)
            ).scalars().all()
        running = {d.transfer_id for d in self.all()}
        for transfer_id, job_id in rows:
            tid = UUID(transfer_id)
            if tid in running or job_id is None:
                continue
            download = Download(UUID(job_id), None, transfer_id=tid)
            found.append(self._queue(download, self._run_resume))
        found.extend(self._rerun_requests([UUID(j) for j in searching]))
        if found:
            log.info("resuming unfinished downloads", count=len(found))
        return found

    def _rerun_requests(self, job_ids: list[UUID]) -> list[Download]:
        """Jobs stopped before their transfer existed: ask again for what they asked."""
        store = self.engine.store
        assert store is not None
        out = []
        for job_id in job_ids:
            if self.get(job_id) is not None:
                continue
            job = store.get(job_id)
            target = job.target
            try:
                request = DownloadRequest.from_target(target, job.options)
                why = f"its target {target!r} is not a request that can run again"
            except ValueError as e:
                request, why = None, f"its request cannot be read back: {e}"
            if request is None:
                self.engine.command(job_id, Job.fail, reason=(
                    f"interrupted before its download started, and {why}")).result(60)
                continue
            log.info("running an interrupted request again", job_id=str(job_id), target=target)
            out.append(self._queue(Download(job_id, request), self._run_request))
        return out

    def stop(self, timeout: float = 60.0) -> None:
        """Interrupt what runs (transfers stay resumable) and wait for the workers."""
        with self._lock:
            self._closed = True
            downloads = list(self._downloads.values())
        for d in downloads:
            d.stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for d in downloads:
            if not d.done.wait(timeout):
                log.warning("download did not stop in time", job_id=str(d.job_id))
        self._db.dispose()

    # -- running ---------------------------------------------------------------

    def _queue(self, download: Download, work: Callable[[Download], None]) -> Download:
        with self._lock:
            if self._closed:
                raise RuntimeError("the download service is stopping")
            self._downloads[download.job_id] = download
        future: Future[None] = self._pool.submit(self._guarded, download, work)
        future.add_done_callback(lambda f: _set_if_cancelled(f, download.done))
        return download

    def _guarded(self, download: Download, work: Callable[[Download], None]) -> None:
        dlog = log.bind(job_id=str(download.job_id))
        try:
            if download.stop.is_set():
                self._end(download, None)
                return
            work(download)
        except Exception as exc:  # a bug or an outage must end the job, not the worker
            dlog.exception("download crashed")
            download.reason = f"download crashed: {exc!r}"
            download.state = "failed"
            self._end_job(download)
        finally:
            self._release(download)
            download.done.set()

    def _claim(self, download: Download, dest: Path) -> bool:
        """Hold ``dest`` for this download; False (the download failed, saying by whom) if
        another download holds it. The second of two requests for one file fails rather than
        waits: it would only fetch again what the first is fetching."""
        key = dest.resolve()
        with self._lock:
            holder = self._claims.get(key)
            if holder is not None and holder != download.job_id:
                download.state = "failed"
                download.reason = f"{dest.name} is already being downloaded by job {holder}"
                log.info("download refused: its file is being downloaded",
                         job_id=str(download.job_id), holder=str(holder), dest=str(dest))
                return False
            self._claims[key] = download.job_id
            download.claimed = key
        return True

    def _release(self, download: Download) -> None:
        with self._lock:
            if download.claimed is not None and \
                    self._claims.get(download.claimed) == download.job_id:
                del self._claims[download.claimed]
            download.claimed = None

    def _run_request(self, download: Download) -> None:
        request = download.request
        assert request is not None
        loop, actors = self.engine.loop, self.engine.actors
        assert loop is not None and actors is not None
        download.state = "searching"
        download_dir = Path(self.session.config.download_dir)
        download_dir.mkdir(parents=True, exist_ok=True)
        # The probes' bytes of the chosen file are kept here until they become its part file.
        scratch = Path(tempfile.mkdtemp(prefix=".probed-", dir=download_dir))
        try:
            try:
                if request.query is not None:
                    found = group_for_query(loop, actors, self.session, request.query,
                                            request.window, download.stop, scratch)  # fmt: skip
                else:
                    assert request.username is not None and request.path is not None
                    found = group_for_file(loop, actors, self.session, request.username,
                                           request.path, request.window, request.multi_source,
                                           download.stop, scratch)  # fmt: skip
            except LookupInterrupted:  # shut down or cancelled: ``_end`` says which
                self._end(download, None)
                return
            except LookupFailed as exc:
                download.reason, download.state = str(exc), "failed"
                self._end_job(download)
                return
            group, download.probe = found.group, found.probe
            download.name, download.size = group.name, group.size
            if request.play:
                download.play_head = PlayHead(playback_kbps(group))
            # A peer's file keeps the name it was asked by, not another copy's spelling of it.
            dest = self.session.local_path_for(request.path or group.offers[0].path)
            if not self._claim(download, dest):  # before the probe's bytes become its part file
                self._end_job(download)
                return
            kept = _probed_into_part(found.probed, dest, group.size)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        sources = [(o.username, o.path) for o in group.offers]
        self._download(download, sources, dest, resume=None, probed=kept)

    def _run_resume(self, download: Download) -> None:
        assert download.transfer_id is not None
        store = self.engine.store
        assert store is not None
        transfer = store.get(download.transfer_id)
        download.name, download.size = transfer.filename, transfer.size_bytes
        sources = [(s["username"], s["path"]) for s in transfer.sources.values()
                   if s.get("path") and s.get("username")]  # fmt: skip
        dest = Path(transfer.dest_path)
        if not self._claim(download, dest):
            self.engine.command(download.transfer_id, Transfer.abort,
                                reason=download.reason).result(60)
            self._end_job(download)
            return
        kept = _kept_on_disk(Path(transfer.part_path), transfer.size_bytes,
                             store.events_of(download.transfer_id))
        if _asked_to_play(store.get(download.job_id)):
            download.play_head = PlayHead(part_file_kbps(Path(transfer.part_path),
                                                         transfer.size_bytes, kept))
        if not sources:
            download.reason, download.state = "the log names no source to resume from", "failed"
            self.engine.command(download.transfer_id, Transfer.abort,
                                reason=download.reason).result(60)
            self._end_job(download)
            return
        self._download(download, sources, dest, resume=kept)

    def _download(self, download: Download, sources: list[tuple[str, str]], dest: Path,
                  resume: KeptBytes | None, probed: KeptBytes | None = None) -> None:
        """Fetch ``dest``; ``resume``: an interrupted transfer's kept bytes; ``probed``: the
        bytes a probe put in the part file of a new transfer (not fetched again)."""
        if download.stop.is_set():  # cancelled or shut down while searching
            self._end(download, None)
            return
        download.state = "downloading"
        download.path = str(dest)
        download.resumed_bytes = resume.kept if resume else 0
        result = download_multi_source(
            self.engine, self.session, sources, download.size, dest,
            session_config(self.engine.settings), filename=download.name,
            time_limit=self.time_limit, job_id=download.job_id, stop=download.stop,
            resume_transfer=download.transfer_id if resume is not None else None,
            kept=resume if resume is not None else probed,
            on_transfer=lambda tid: setattr(download, "transfer_id", tid),
            play_head=download.play_head,
        )  # fmt: skip
        self._end(download, result)

    def _end(self, download: Download, result: SwarmDownloadResult | None) -> None:
        download.result = result
        if result is not None:
            download.transfer_id = result.transfer_id
            download.path = str(result.dest_path or result.part_path)
        cancelled = download.reason == CANCELLED
        if result is not None and result.ok:
            download.state = "completed"
        elif cancelled:
            download.state = "cancelled"
            if download.transfer_id is not None and result is not None:
                self.engine.command(download.transfer_id, Transfer.abort,
                                    reason=CANCELLED).result(60)
        elif download.stop.is_set() and download.transfer_id is not None:
            download.state = "interrupted"  # the transfer stays active: resumed next start
            download.reason = "interrupted by shutdown; resumes on the next start"
            return
        elif download.stop.is_set() and download.request is not None:
            download.state = "interrupted"  # the job stays running: asked again next start
            download.reason = ("interrupted by shutdown before it started; runs again on the "
                               "next start")
            return
        else:
            download.state = "failed"
            download.reason = (download.reason or (result.reason if result else None)
                               or "stopped before it started")
        self._end_job(download)

    def _end_job(self, download: Download) -> None:
        if download.state == "completed":
            self.engine.command(download.job_id, Job.complete).result(60)
        elif download.state == "cancelled":
            self.engine.command(download.job_id, Job.cancel, reason=CANCELLED).result(60)
        else:
            self.engine.command(download.job_id, Job.fail,
                                reason=download.reason or "failed").result(60)

    def _bytes_received(self, transfer_id: UUID | None) -> int | None:
        if transfer_id is None:
            return None
        with self._db.connect() as conn:
            return conn.execute(
                sa.select(transfers_table.c.bytes_received)
                .where(transfers_table.c.transfer_id == str(transfer_id))
            ).scalar()


def _probed_into_part(probed: ProbedBytes | None, dest: Path, size: int) -> KeptBytes | None:
    """Make a kept probe the new transfer's part file: its bytes count as received from the
    peer that sent them (the whole-file check covers them; a failure is traced to it)."""
    if probed is None:
        return None
    part = dest.with_name(dest.name + ".part")
    if part.exists():  # another download's part file, maybe running: never swapped under it
        log.info("probe bytes not reused: a part file is there", part=str(part))
        return None
    try:
        part.parent.mkdir(parents=True, exist_ok=True)
        os.replace(probed.part, part)
    except OSError as exc:
        log.warning("probe bytes not reused", part=str(part), error=repr(exc))
        return None
    source = str(peer_id(probed.username, SOULSEEK))
    return KeptBytes(size, received={source: [(a, b) for a, b in probed.ranges]})


def _asked_to_play(job: Job) -> bool:
    """Was the job's request asked in playback mode (a resumed transfer plays on)?"""
    try:
        request = DownloadRequest.from_target(job.target, job.options)
    except ValueError:
        return False
    return request is not None and request.play


def _kept_on_disk(part_path: Path, size: int, events: list[Any]) -> KeptBytes:
    """What the log says the part file holds — nothing, if the part file is gone or wrong."""
    try:
        if part_path.stat().st_size != size:
            return KeptBytes(size)
    except OSError:
        return KeptBytes(size)
    return kept_bytes(size, events)


def _set_if_cancelled(future: Future[None], done: threading.Event) -> None:
    if future.cancelled():  # never ran (shutdown): nobody else will say it ended
        done.set()

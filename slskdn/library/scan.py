"""Scan library folders into LibraryFile events.

Unchanged files (same size and mtime, analysed by the current analyser) are skipped using
the ``library`` read model, so a rescan of a large library costs a walk and a stat per
file. Changed and new files are analysed in a process pool; each verdict is recorded by
the file's actor, which is released once the event is committed. Files that were known
under a scanned folder and are gone are marked removed. A scan never writes to a file.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from slskdn.audio.analysis import FileAnalysis, analyse_file, iter_audio_files
from slskdn.domain.library_file import LibraryFile, file_id, needs_analysis
from slskdn.engine import Engine
from slskdn.library.facts import variant_facts
from slskdn.logs import get_logger
from slskdn.projections.library import known_files, verdict_counts

log = get_logger(__name__)

# Bump when the analyser's verdicts change, so that the next scan recomputes every file.
ANALYSER_VERSION = 1
# Files in flight between the analyser and their actors; bounds live actor threads.
WINDOW = 256

Progress = Callable[[int, int], None]
"""Called with (files handled so far, files to handle) as the scan goes."""


class ScanError(ValueError):
    """The scan cannot start (e.g. a path that does not exist); the message says which."""


@dataclass
class ScanSummary:
    files: int = 0
    analysed: int = 0
    skipped_unchanged: int = 0
    unreadable: int = 0
    suspected_transcodes: int = 0
    without_mbids: int = 0
    removed: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Absolute paths to scan; ScanError naming the first one that does not exist."""
    if not paths:
        raise ScanError("no path to scan (give folders, or set library.directories)")
    resolved = []
    for path in paths:
        p = Path(path).expanduser()
        if not p.exists() and not p.is_symlink():  # a dangling link is reported, not refused
            raise ScanError(f"{path}: no such file or folder")
        resolved.append(p.absolute())
    return resolved


def scan(
    engine: Engine,
    paths: Sequence[str | Path],
    *,
    recompute: bool = False,
    workers: int = 1,
    progress: Progress | None = None,
) -> ScanSummary:
    roots = check_paths(paths)
    started = time.perf_counter()
    summary = ScanSummary()
    engine.catch_up()
    runner = engine.projections["library"]
    with runner.engine.connect() as conn:
        known = known_files(conn)

    todo: list[tuple[str, int | None, int | None]] = []
    seen: set[str] = set()
    for item in iter_audio_files(roots):
        if item.problem is not None:
            summary.problems.append(f"{item.path}: {item.problem}")
            continue
        summary.files += 1
        seen.add(item.path)
        try:
            st = os.stat(item.path)
        except OSError:
            todo.append((item.path, None, None))  # the analyser says why
            continue
        if recompute or needs_analysis(
            known.get(item.path), st.st_size, st.st_mtime_ns, ANALYSER_VERSION
        ):
            todo.append((item.path, st.st_size, st.st_mtime_ns))
        else:
            summary.skipped_unchanged += 1

    done = summary.skipped_unchanged
    total = summary.files
    if progress:
        progress(done, total)
    for analyses in _analyse(todo, workers):
        futures, ids = [], []
        for analysis, size, mtime in analyses:
            fid = file_id(analysis.path)
            ids.append(fid)
            futures.append(_record(engine, fid, analysis, size, mtime, summary))
        for future in futures:
            future.result(timeout=120)
        engine.actors.release(ids)  # type: ignore[union-attr]
        done += len(analyses)
        if progress:
            progress(done, total)

    gone = [
        path
        for path, (_, _, _, status) in known.items()
        if status != "removed" and path not in seen and _under(path, roots)
    ]
    futures = [engine.command(file_id(p), LibraryFile.mark_removed) for p in gone]
    for future in futures:
        future.result(timeout=120)
    engine.actors.release([file_id(p) for p in gone])  # type: ignore[union-attr]
    summary.removed = len(gone)
    engine.catch_up()
    # Verdicts describe the scanned files as they are now, whether analysed in this run or
    # skipped as unchanged.
    with runner.engine.connect() as conn:
        counts = verdict_counts(conn, seen)
    summary.unreadable = counts["unreadable"]
    summary.suspected_transcodes = counts["suspected_transcodes"]
    summary.without_mbids = counts["without_mbids"]
    summary.seconds = round(time.perf_counter() - started, 3)
    log.info(
        "library scan finished", **{k: v for k, v in summary.as_dict().items() if k != "problems"}
    )
    return summary


def _record(
    engine: Engine,
    fid: UUID,
    analysis: FileAnalysis,
    size: int | None,
    mtime: int | None,
    summary: ScanSummary,
) -> Future[int]:
    create = partial(_discover, path=analysis.path)
    summary.analysed += 1
    if analysis.error is not None:
        return engine.actors.command(  # type: ignore[union-attr]
            fid,
            LibraryFile.record_unreadable,
            create=create,
            reason=analysis.error,
            analyser_version=ANALYSER_VERSION,
            size_bytes=analysis.file_size_bytes if analysis.file_size_bytes is not None else size,
            mtime_ns=analysis.mtime_ns if analysis.mtime_ns is not None else mtime,
        )
    return engine.actors.command(  # type: ignore[union-attr]
        fid,
        LibraryFile.record_analysis,
        create=create,
        size_bytes=analysis.file_size_bytes,
        mtime_ns=analysis.mtime_ns,
        analyser_version=ANALYSER_VERSION,
        variant=variant_facts(analysis),
    )


def _discover(id: UUID, at: Any, path: str) -> LibraryFile:
    return LibraryFile.discover(id=id, at=at, path=path)


def _analyse(
    todo: list[tuple[str, int | None, int | None]], workers: int
) -> Iterator[list[tuple[FileAnalysis, int | None, int | None]]]:
    """Analyses in windows of WINDOW files, in order; a process pool when workers > 1."""
    if not todo:
        return
    if workers <= 1:
        for start in range(0, len(todo), WINDOW):
            window = todo[start : start + WINDOW]
            yield [(analyse_file(p), s, m) for p, s, m in window]
        return
    # forkserver, not fork: this process runs actor and writer threads, and forking a
    # threaded process can deadlock the child on a lock held by another thread.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for start in range(0, len(todo), WINDOW):
            window = todo[start : start + WINDOW]
            results = pool.map(analyse_file, [p for p, _, _ in window], chunksize=4)
            yield [(a, s, m) for a, (_, s, m) in zip(results, window, strict=True)]


def _under(path: str, roots: list[Path]) -> bool:
    return any(path == str(r) or path.startswith(str(r).rstrip("/") + "/") for r in roots)

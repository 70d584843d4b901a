"""`slskdn library scan|quality|canonical`: what the local files really are."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from slskdn.cli.common import (
    EXIT_BAD_INPUT,
    console,
    current_settings,
    engine_session,
    err_console,
    fail,
    print_json,
    progress_reporter,
)
from slskdn.domain.canonical import CanonicalConstraints
from slskdn.library.scan import ScanError, check_paths, scan
from slskdn.logs import get_logger
from slskdn.projections import library as library_view

log = get_logger(__name__)
library_app = typer.Typer(
    help="The local library: scan, quality, canonical variants.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PathsArg = Annotated[
    list[Path] | None, typer.Argument(help="Files or folders (default: library.directories).")
]


def _paths(paths: list[Path] | None) -> list[Path]:
    chosen = paths or list(current_settings().library.directories)
    try:
        return check_paths(chosen)
    except ScanError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)


def run_scan(paths: list[Path], recompute: bool, workers: int) -> dict[str, Any]:
    with engine_session() as engine, progress_reporter("scanning") as progress:
        return scan(
            engine, paths, recompute=recompute, workers=workers, progress=progress
        ).as_dict()


@library_app.command("scan")
def scan_cmd(
    paths: PathsArg = None,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Analyse unchanged files too.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Analyser processes (default: CPU count).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Analyse new and changed files; unchanged ones are skipped."""
    summary = run_scan(_paths(paths), recompute, workers or os.cpu_count() or 1)
    if json_output:
        print_json(summary)
        return
    for problem in summary["problems"]:
        err_console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    table = Table(
        "files",
        "analysed",
        "skipped unchanged",
        "unreadable",
        "suspected transcodes",
        "without MBIDs",
        "removed",
        "seconds",
    )
    table.add_row(
        *(
            str(summary[k])
            for k in (
                "files",
                "analysed",
                "skipped_unchanged",
                "unreadable",
                "suspected_transcodes",
                "without_mbids",
                "removed",
                "seconds",
            )
        )
    )
    console.print(table)


QUALITY_FIELDS = (
    "path", "status", "error", "codec", "container", "bitrate_bps", "sample_rate", "bit_depth",
    "channels", "duration_ms", "size_bytes", "quality_score", "transcode_suspect",
    "transcode_reason", "cutoff_hz", "cutoff_kind", "upsampled_from_hz", "effective_bit_depth",
    "clipping_ratio", "dynamic_range_db",
)  # fmt: skip
MBID_FIELDS = ("recording_id", "release_id", "release_group_id", "artist_id", "release_track_id")


def quality_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {k: row.get(k) for k in QUALITY_FIELDS}
    record["file_size_bytes"] = record.pop("size_bytes")
    record["upsampled"] = row.get("upsampled_from_hz") is not None
    record["mbids"] = {k: row.get(k) for k in MBID_FIELDS}
    record["label"] = row.get("label")
    record["track_number"], record["disc_number"] = row.get("track_number"), row.get("disc_number")
    record["fingerprint"] = bool(row.get("fingerprint"))
    record["problems"] = json.loads(row.get("problems") or "[]")
    return record


@library_app.command("quality")
def quality_cmd(
    paths: PathsArg = None,
    sample: Annotated[
        int, typer.Option(help="Only N files, picked at random (seeded), 0 = all.")
    ] = 0,
    workers: Annotated[int, typer.Option(help="Analyser processes (default: CPU count).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """One record per file: format, tags, spectrum verdicts, quality score, errors."""
    from slskdn.audio.analysis import iter_audio_files

    roots = _paths(paths)
    files = [Path(item.path) for item in iter_audio_files(roots) if item.problem is None]
    if sample and sample < len(files):
        files = sorted(random.Random(0).sample(files, sample))
    with engine_session() as engine, progress_reporter("analysing") as progress:
        if files:
            scan(engine, files, workers=workers or os.cpu_count() or 1, progress=progress)
        with engine.projections["library"].engine.connect() as conn:
            rows = library_view.file_rows(conn, [str(f) for f in files])
    records = [quality_record(r) for r in rows]
    if json_output:
        print_json(records)
        return
    table = Table("file", "codec", "rate/bits", "kbps", "score", "transcode?", "cutoff", "note")
    for r in records:
        bits = f"{(r['sample_rate'] or 0) / 1000:g}/{r['bit_depth'] or '-'}"
        kbps = str(round((r["bitrate_bps"] or 0) / 1000)) if r["bitrate_bps"] else "-"
        score = f"{r['quality_score']:.2f}" if r["quality_score"] is not None else "-"
        cutoff = f"{r['cutoff_hz'] / 1000:.1f} kHz" if r["cutoff_hz"] else "-"
        note = r["error"] or r["transcode_reason"] or ""
        if r["upsampled_from_hz"]:
            note = f"upsampled from {r['upsampled_from_hz'] / 1000:g} kHz; {note}"
        table.add_row(
            Path(r["path"]).name,
            r["codec"] or "-",
            bits,
            kbps,
            score,
            "yes" if r["transcode_suspect"] else "",
            cutoff,
            note,
        )
    console.print(table)


@library_app.command("canonical")
def canonical_cmd(
    recording: Annotated[Optional[str], typer.Option(help="MusicBrainz recording id.")] = None,  # noqa: UP045
    release: Annotated[Optional[str], typer.Option(help="MusicBrainz release id.")] = None,  # noqa: UP045
    lossless_only: Annotated[bool, typer.Option("--lossless-only")] = False,
    json_output: JsonOption = False,
) -> None:
    """Local variants of a recording, best first, or per-track stats of a release."""
    if (recording is None) == (release is None):
        fail("give exactly one of --recording or --release", code=EXIT_BAD_INPUT)
    with engine_session() as engine:
        engine.catch_up()
        with engine.projections["library"].engine.connect() as conn:
            if recording is not None:
                ordered = library_view.canonical_candidates(
                    conn, recording, CanonicalConstraints(lossless_only=lossless_only)
                )
                result: dict[str, Any] = {
                    "recording_id": recording,
                    "candidates": [v.__dict__ for v in ordered],
                    "stats": library_view.recording_stats(conn, recording),
                }
            else:
                assert release is not None
                result = {
                    "release_id": release,
                    "tracks": library_view.release_stats(conn, release),
                }
    if json_output:
        print_json(result)
        return
    if recording is not None:
        table = Table("#", "file", "codec", "rate/bits", "score", "transcode?")
        for i, v in enumerate(result["candidates"], 1):
            table.add_row(
                str(i),
                v["path"],
                v["codec"],
                f"{v['sample_rate'] / 1000:g}/{v['bit_depth'] or '-'}",
                f"{v['quality_score']:.2f}",
                "yes" if v["transcode_suspect"] else "",
            )
        console.print(table)
        stats = Table("codec profile", "variants", "mean quality", "transcode share")
        for s in result["stats"]:
            stats.add_row(
                s["codec_profile"],
                str(s["variants"]),
                f"{s['mean_quality']:.2f}",
                f"{s['transcode_share']:.0%}",
            )
        console.print(stats)
    else:
        table = Table("disc", "track", "title", "variants", "mean quality", "transcodes", "codecs")
        for t in result["tracks"]:
            table.add_row(
                str(t["disc"]),
                str(t["track"]),
                t["title"] or "",
                str(t["variants"]),
                f"{t['mean_quality']:.2f}",
                f"{t['transcode_share']:.0%}",
                ", ".join(t["codecs"]),
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(library_app, name="library")

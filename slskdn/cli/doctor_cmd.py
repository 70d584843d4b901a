"""`slskdn doctor scan|issues|show|ignore|resolve`: Collection Doctor."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional
from uuid import UUID

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
from slskdn.doctor.scan import doctor_scan
from slskdn.domain.diagnosis import KINDS
from slskdn.domain.errors import DomainError
from slskdn.domain.health_issue import STATUSES, HealthIssue
from slskdn.engine import Engine
from slskdn.history import event_record
from slskdn.library.scan import ScanError, check_paths
from slskdn.projections import health as health_view

doctor_app = typer.Typer(
    help="Collection Doctor: what is wrong with the library.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

SUMMARY_LINES = (
    ("files", "files"),
    ("analysed", "analysed now"),
    ("skipped_unchanged", "unchanged (not re-analysed)"),
    ("unreadable", "unreadable files"),
    ("suspected_transcodes", "suspected transcodes"),
    ("non_canonical_variants", "non-canonical variants"),
    ("tracks_not_in_tagged_release", "tracks not in their tagged release"),
    ("wrong_durations", "wrong durations"),
    ("missing_tracks", "missing tracks"),
    ("incomplete_releases", "incomplete releases"),
    ("files_without_mbids", "files without MusicBrainz ids"),
    ("releases_checked", "releases checked against MusicBrainz"),
    ("releases_without_tracklist", "releases without a cached tracklist"),
    ("issues_raised", "new issues"),
    ("issues_closed", "issues closed (cause gone)"),
    ("open_issues", "open issues in total"),
    ("seconds", "seconds"),
)


@doctor_app.command("scan")
def scan_cmd(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Folders (default: library.directories).")
    ] = None,
    fetch_missing: Annotated[
        bool,
        typer.Option(
            "--fetch-missing",
            help="Fetch tracklists not yet cached from MusicBrainz (otherwise offline).",
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="Analyser processes (default: CPU count).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Scan the library and raise, update or close health issues."""
    chosen = paths or list(current_settings().library.directories)
    try:
        check_paths(chosen)
    except ScanError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)
    with engine_session() as engine, progress_reporter("scanning") as progress:
        summary = doctor_scan(
            engine, chosen, fetch_missing=fetch_missing,
            workers=workers or os.cpu_count() or 1, progress=progress,
        ).as_dict()  # fmt: skip
    if json_output:
        print_json(summary)
        return
    for problem in summary["problems"]:
        err_console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    table = Table("", "", show_header=False, box=None)
    for key, label in SUMMARY_LINES:
        table.add_row(label, str(summary[key]))
    console.print(table)
    if summary["releases_without_tracklist"] and not fetch_missing:
        console.print(
            "Missing-track checks need MusicBrainz tracklists: run with --fetch-missing.",
            highlight=False,
        )
    if summary["open_issues"]:
        console.print("See them with: slskdn doctor issues", highlight=False)


@doctor_app.command("issues")
def issues_cmd(
    kind: Annotated[str | None, typer.Option("--type", help=f"One of: {', '.join(KINDS)}.")] = None,
    artist: Annotated[Optional[str], typer.Option(help="Artist name contains this.")] = None,  # noqa: UP045
    release: Annotated[Optional[str], typer.Option(help="MusicBrainz release id.")] = None,  # noqa: UP045
    status: Annotated[str, typer.Option(help=f"One of: {', '.join(STATUSES)}, all.")] = "open",
    sort: Annotated[
        str, typer.Option(help=f"One of: {', '.join(health_view.SORT_KEYS)}.")
    ] = "severity",
    json_output: JsonOption = False,
) -> None:
    """Issues, open ones by default (ignored and resolved ones stay, out of this view)."""
    if kind is not None and kind not in KINDS:
        fail(
            f"unknown issue type {kind!r} (expected one of: {', '.join(KINDS)})",
            code=EXIT_BAD_INPUT,
        )
    if status not in (*STATUSES, "all"):
        fail(
            f"unknown status {status!r} (expected one of: {', '.join(STATUSES)}, all)",
            code=EXIT_BAD_INPUT,
        )
    if sort not in health_view.SORT_KEYS:
        fail(
            f"unknown sort {sort!r} (expected one of: {', '.join(health_view.SORT_KEYS)})",
            code=EXIT_BAD_INPUT,
        )
    with engine_session() as engine:
        engine.catch_up()
        with _db(engine).connect() as conn:
            rows = health_view.issues(
                conn, kind=kind, artist=artist, release=release, status=status, sort=sort
            )
            counts = health_view.counts(conn, "open")
    if json_output:
        print_json([_record(r) for r in rows])
        return
    table = Table("id", "severity", "type", "artist", "album", "what", "status")
    for r in rows:
        what = r["title"] or Path(r["path"] or "").name
        table.add_row(
            r["issue_id"][:8],
            r["severity"],
            r["kind"],
            r["artist"] or "",
            r["album"] or "",
            what,
            r["status"],
        )
    console.print(table)
    console.print(
        f"{len(rows)} issues; open by type: "
        + (", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none")
    )


@doctor_app.command("show")
def show_cmd(
    issue: Annotated[str, typer.Argument(help="Issue id (or its first characters).")],
    json_output: JsonOption = False,
) -> None:
    """One issue in full, with its history."""
    with engine_session() as engine:
        engine.catch_up()
        row = _one(engine, issue)
        assert engine.store is not None
        history = [event_record(e) for e in engine.store.events_of(_uuid(row))]
    record = {**_record(row), "history": history}
    if json_output:
        print_json(record)
        return
    console.print(f"[bold]{row['kind']}[/] {row['issue_id']} ({row['severity']}, {row['status']})")
    for key in (
        "path",
        "artist",
        "album",
        "title",
        "release_id",
        "recording_id",
        "disc",
        "track",
        "reason",
        "note",
    ):
        if row.get(key) not in (None, ""):
            console.print(f"  {key}: {row[key]}", highlight=False)
    for key, value in (row.get("details") or {}).items():
        if value is not None:
            console.print(f"  {key}: {value}", highlight=False)
    for event in history:
        console.print(f"  {event['time'][:19]}  {event['type']}", highlight=False)


def _set_status(issue: str, method: Any, reason: str, done: str) -> None:
    with engine_session() as engine:
        engine.catch_up()
        row = _one(engine, issue)
        try:
            engine.command(_uuid(row), method, reason=reason).result(timeout=60)
        except DomainError as exc:
            fail(f"issue {row['issue_id'][:8]}: {exc}", code=EXIT_BAD_INPUT)
    console.print(
        f"{done} issue {row['issue_id'][:8]} ({row['kind']}: {row['path']})", highlight=False
    )


@doctor_app.command("ignore")
def ignore_cmd(
    issue: Annotated[str, typer.Argument(help="Issue id (or its first characters).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the history).")] = "ignored by user",
) -> None:
    """Hide an open issue from the default view; later scans leave it ignored."""
    _set_status(issue, HealthIssue.ignore, reason, "ignored")


@doctor_app.command("resolve")
def resolve_cmd(
    issue: Annotated[str, typer.Argument(help="Issue id (or its first characters).")],
    reason: Annotated[
        str, typer.Option(help="What was done (kept in the history).")
    ] = "resolved by user",
) -> None:
    """Mark an issue resolved; a later scan that still finds the problem re-raises it."""
    _set_status(issue, HealthIssue.resolve, reason, "resolved")


def _db(engine: Engine) -> Any:
    return engine.projections["health"].engine


def _one(engine: Engine, prefix: str) -> dict[str, Any]:
    if len(prefix) < 4:
        fail("give at least the first 4 characters of the issue id", code=EXIT_BAD_INPUT)
    with _db(engine).connect() as conn:
        found = health_view.find(conn, prefix)
    if not found:
        fail(f"no issue with id {prefix!r}", code=EXIT_BAD_INPUT)
    if len(found) > 1:
        fail(f"{prefix!r} matches several issues; give more characters", code=EXIT_BAD_INPUT)
    return found[0]


def _uuid(row: dict[str, Any]) -> UUID:
    return UUID(row["issue_id"])


def _record(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("issue_id", "kind", "status", "severity", "path", "reason", "artist", "album", "title",
            "release_id", "recording_id", "disc", "track", "details", "note", "job_id",
            "times_raised", "raised_at", "updated_at")  # fmt: skip
    return {k: row.get(k) for k in keys}


def register(app: typer.Typer) -> None:
    app.add_typer(doctor_app, name="doctor")

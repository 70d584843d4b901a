"""`slskdn jobs add|list|cancel`: download requests as Job aggregates."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
import typer
from rich.table import Table

from slskdn.cli.common import (
    EXIT_BAD_INPUT,
    console,
    current_settings,
    engine_session,
    fail,
    print_json,
)
from slskdn.daemon.client import DaemonError, running_daemon
from slskdn.domain.errors import DomainError
from slskdn.domain.ids import as_ulid, parse_id
from slskdn.domain.job import Job, JobKind
from slskdn.projections.activity import job_activity

jobs_app = typer.Typer(help="Download jobs.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@jobs_app.command("add")
def add(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(k.value for k in JobKind)}.")],
    target: Annotated[str, typer.Argument(help="MusicBrainz id (or query) the job is about.")],
    title: Annotated[str, typer.Option(help="A name for people.")] = "",
    json_output: JsonOption = False,
) -> None:
    """Record a job. Nothing runs jobs yet: release downloads will (see docs/cli.md)."""
    with engine_session() as engine:
        try:
            job_id = engine.create_job(kind, target, title=title).result(timeout=60)
        except DomainError as exc:
            fail(str(exc), code=EXIT_BAD_INPUT)
    if json_output:
        print_json({"job_id": str(job_id), "ulid": as_ulid(job_id), "kind": kind, "target": target})
    else:
        console.print(f"created job {as_ulid(job_id)} ({kind} {target})")


@jobs_app.command("cancel")
def cancel(
    job_id: Annotated[str, typer.Argument(help="Job id (ULID or UUID).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the history).")] = "cancelled by user",
) -> None:
    """Cancel a job that has not finished (through the daemon when it is running it)."""
    try:
        uid = parse_id(job_id)
    except ValueError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)
    settings = current_settings()
    found = running_daemon(settings.app_dir.expanduser(),
                           [k.get_secret_value() for k in settings.api.keys])  # fmt: skip
    if found is not None:
        client, _state = found
        with client:
            try:
                client.cancel(str(uid))
            except DaemonError:  # not one of its downloads: the job is ours to write
                pass
            else:
                console.print(f"cancelled job {job_id} (the daemon stops its download)")
                return
    with engine_session() as engine:
        try:
            engine.command(uid, Job.cancel, reason=reason).result(timeout=60)
        except DomainError as exc:
            fail(f"job {job_id}: {exc}", code=EXIT_BAD_INPUT)
    console.print(f"cancelled job {job_id}")


@jobs_app.command("list")
def list_jobs(json_output: JsonOption = False) -> None:
    """Jobs with their activity counts (from the activity projection)."""
    with engine_session() as engine:
        engine.catch_up()
        with engine.projections["activity"].engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(job_activity)).mappings()]
    rows = [r for r in rows if r["kind"] is not None]
    for row in rows:
        row["ulid"] = as_ulid(parse_id(row["job_id"]))
    rows.sort(key=lambda r: r["ulid"])
    if json_output:
        print_json(rows)
        return
    table = Table("job", "kind", "status", "tracks", "transfers", "bytes received", "events")
    for r in rows:
        table.add_row(
            r["ulid"],
            r["kind"],
            r["status"],
            str(r["tracks"]),
            str(r["transfers"]),
            str(r["bytes_received"]),
            str(r["events"]),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")

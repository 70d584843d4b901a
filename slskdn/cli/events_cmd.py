"""`slskdn events list`, `slskdn replay`, `slskdn audit job`: reading the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional
from uuid import UUID

import typer
from rich.table import Table

from slskdn import history
from slskdn.cli.common import EXIT_BAD_INPUT, console, fail, open_store, print_json
from slskdn.domain.ids import parse_id

events_app = typer.Typer(help="The event log.", no_args_is_help=True)
audit_app = typer.Typer(help="Readable histories.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _id(text: str) -> UUID:
    try:
        return parse_id(text)
    except ValueError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return history.parse_time(text)
    except history.HistoryError as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)


@events_app.command("list")
def list_events(
    aggregate: Annotated[
        str | None, typer.Option(help="Only this aggregate (ULID or UUID).")
    ] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Event type, e.g. Job.Started or RangeReceived.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events at or after this ISO time.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many (0 = all).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """List events in log order."""
    aggregate_id = _id(aggregate) if aggregate else None
    since_time = _time(since)
    with open_store() as store:
        records = []
        for record in history.iter_events(store, aggregate_id, type_, since_time):
            records.append(record)
            if limit and len(records) >= limit:
                break
    if json_output:
        print_json(records)
        return
    table = Table("pos", "time", "aggregate", "v", "type", "details")
    for r in records:
        table.add_row(
            str(r["position"] or ""),
            r["time"][:23],
            r["aggregate_id"][:8],
            str(r["version"]),
            r["type"],
            history.describe(r),
        )
    console.print(table)
    console.print(f"{len(records)} events")


def replay(
    aggregate_id: Annotated[str, typer.Argument(help="Aggregate id (ULID or UUID).")],
    version: Annotated[Optional[int], typer.Option(help="State after this version.")] = None,  # noqa: UP045
    at: Annotated[Optional[str], typer.Option(help="State as it was at this ISO time.")] = None,  # noqa: UP045
    json_output: JsonOption = False,
) -> None:
    """Rebuild an aggregate's state from its events, as it was at a version or a time."""
    if version is not None and at is not None:
        fail("give --version or --at, not both", code=EXIT_BAD_INPUT)
    uid, at_time = _id(aggregate_id), _time(at)
    with open_store() as store:
        try:
            record = history.replay(store, uid, version=version, at=at_time)
        except history.HistoryError as exc:
            fail(str(exc), code=EXIT_BAD_INPUT)
    if json_output:
        print_json(record)
        return
    console.print(
        f"[bold]{record['type']}[/] {record['aggregate_id']} "
        f"version {record['version']} of {record['latest_version']} (at {record['modified_on']})"
    )
    for name, value in record["state"].items():
        console.print(f"  {name}: {value}", highlight=False)


@audit_app.command("job")
def audit_job(
    job_id: Annotated[str, typer.Argument(help="Job id (ULID or UUID).")],
    json_output: JsonOption = False,
) -> None:
    """A job's whole history, with the events of its transfers, in time order."""
    uid = _id(job_id)
    with open_store() as store:
        try:
            audit = history.job_audit(store, uid)
        except history.HistoryError as exc:
            fail(str(exc), code=EXIT_BAD_INPUT)
    if json_output:
        print_json(audit)
        return
    console.print(
        f"[bold]job {audit['ulid']}[/] ({audit['kind']} {audit['target']}): {audit['status']}, "
        f"{len(audit['transfers'])} transfers, {len(audit['events'])} events"
    )
    for r in audit["events"]:
        who = "job" if r["aggregate_id"] == audit["job_id"] else f"transfer {r['aggregate_id'][:8]}"
        console.print(
            f"  {r['time'][:23]}  {who:<17} {r['type']:<28} {history.describe(r)}", highlight=False
        )


@audit_app.command("transfer")
def audit_transfer(
    transfer_id: Annotated[str, typer.Argument(help="Transfer id (ULID or UUID).")],
    json_output: JsonOption = False,
) -> None:
    """A transfer's history: ranges requested and received per peer, rebalances, verdicts."""
    uid = _id(transfer_id)
    with open_store() as store:
        try:
            audit = history.transfer_audit(store, uid)
        except history.HistoryError as exc:
            fail(str(exc), code=EXIT_BAD_INPUT)
    if json_output:
        print_json(audit)
        return
    names = audit["sources"]
    console.print(
        f"[bold]transfer {audit['transfer_id']}[/] {audit['filename']} "
        f"({audit['size_bytes']:,} bytes): {audit['status']}, {len(audit['events'])} events"
    )
    for peer, received in sorted(audit["bytes_by_peer"].items(), key=lambda kv: -kv[1]):
        console.print(f"  {names.get(peer, peer)}: {received:,} bytes", highlight=False)
    for r in audit["events"]:
        data = dict(r["data"])
        peer = data.pop("peer_id", None)
        for key in ("job_id", "recording_id", "variant_id"):
            data.pop(key, None)
        who = names.get(peer, "") if peer else ""
        details = " ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", 0, [], {}))
        console.print(f"  {r['time'][:23]}  {r['type']:<32} {who:<14} {details}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
    app.add_typer(audit_app, name="audit")
    app.command("replay")(replay)

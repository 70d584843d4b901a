"""`slskdn projections status|rebuild`: the read models and how far behind they are."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from slskdn.cli.common import EXIT_BAD_INPUT, console, database_engine, fail, open_store, print_json
from slskdn.projections.framework import ProjectionRunner
from slskdn.projections.registry import all_projections

projections_app = typer.Typer(help="Read models built from the event log.", no_args_is_help=True)


@projections_app.command("status")
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each projection's position, the head of the log, and the lag."""
    engine = database_engine()
    rows: list[dict[str, Any]] = []
    with open_store() as store:
        for projection in all_projections().values():
            s = ProjectionRunner(store, engine, projection).status()
            rows.append(
                {
                    "name": s.name,
                    "position": s.position,
                    "head": s.head,
                    "lag": s.lag,
                    "version": s.version,
                    "needs_rebuild": s.needs_rebuild,
                }
            )
    if json_output:
        print_json(rows)
        return
    table = Table("projection", "position", "head", "lag", "version", "needs rebuild")
    for r in rows:
        table.add_row(
            r["name"],
            str(r["position"]),
            str(r["head"]),
            str(r["lag"]),
            str(r["version"]),
            "yes" if r["needs_rebuild"] else "no",
        )
    console.print(table)


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str, typer.Argument(help="Projection name (see `projections status`).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Drop a projection's rows and replay the whole log into it."""
    projections = all_projections()
    if name not in projections:
        fail(
            f"unknown projection {name!r} (known: {', '.join(sorted(projections))})",
            code=EXIT_BAD_INPUT,
        )
    engine = database_engine()
    with open_store() as store:
        started = time.perf_counter()
        applied = ProjectionRunner(store, engine, projections[name]).rebuild()
        seconds = time.perf_counter() - started
    result = {"name": name, "events": applied, "seconds": round(seconds, 3)}
    if json_output:
        print_json(result)
    else:
        console.print(f"rebuilt {name}: {applied} events in {seconds:.2f} s")


def register(app: typer.Typer) -> None:
    app.add_typer(projections_app, name="projections")

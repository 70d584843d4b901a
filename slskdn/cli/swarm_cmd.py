"""`slskdn swarm …`, `slskdn mesh …`, `slskdn transfers …`: the multi-source engine's view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

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
from slskdn.projections.peer_quality import peer_rows
from slskdn.projections.transfers import open_underperforming
from slskdn.swarm_settings import metrics_config, reputation_config, session_config

swarm_app = typer.Typer(help="The multi-source download engine.", no_args_is_help=True)
stats_app = typer.Typer(help="Statistics.", no_args_is_help=True)
mesh_app = typer.Typer(
    help="Peers as this node sees them (local, never shared).", no_args_is_help=True
)
transfers_app = typer.Typer(help="Transfers.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _peers() -> list[dict[str, Any]]:
    settings = current_settings()
    with engine_session() as engine:
        engine.catch_up()
        with engine.projections["peer_quality"].engine.connect() as conn:
            return peer_rows(
                conn, datetime.now(UTC), metrics_config(settings), reputation_config(settings)
            )


def _kbps(bps: float | None) -> str:
    return "-" if bps is None else f"{bps / 1024:,.0f}"


@stats_app.command("peers")
def stats_peers(json_output: JsonOption = False) -> None:
    """Per-peer metrics: RTT, throughput EMA, error and timeout rates (decayed to now)."""
    metrics_table(_peers(), json_output)


def metrics_table(rows: list[dict[str, Any]], json_output: bool) -> None:
    keys = ("peer_id", "username", "source_kind", "rtt_ms", "throughput_bps", "negotiation_ms",
            "bytes_served", "error_rate", "timeout_rate", "errors", "timeouts", "cancellations",
            "corrupt", "last_seen")  # fmt: skip
    if json_output:
        print_json([{k: r[k] for k in keys} for r in rows])
        return
    table = Table(
        "peer", "kind", "RTT ms", "KiB/s", "negotiation ms", "served", "errors", "timeouts"
    )
    for r in sorted(rows, key=lambda r: -(r["throughput_bps"] or 0)):
        table.add_row(r["username"] or r["peer_id"][:8], r["source_kind"] or "",
                      str(r["rtt_ms"] or "-"), _kbps(r["throughput_bps"]),
                      str(r["negotiation_ms"] or "-"), f"{r['bytes_served']:,}",
                      f"{r['error_rate']:.0%}", f"{r['timeout_rate']:.0%}")  # fmt: skip
    console.print(table)


@mesh_app.command("peers-metrics")
def peers_metrics(json_output: JsonOption = False) -> None:
    """The same metrics as `swarm stats peers`."""
    metrics_table(_peers(), json_output)


@mesh_app.command("peers-reputation")
def peers_reputation(json_output: JsonOption = False) -> None:
    """Local reputation in 0..1 with a short reason; quarantined peers are used last."""
    rows = _peers()
    keys = ("peer_id", "username", "reputation", "quarantined", "reason")
    if json_output:
        print_json([{k: r[k] for k in keys} for r in rows])
        return
    table = Table("peer", "reputation", "quarantined", "reason")
    for r in rows:
        table.add_row(r["username"] or r["peer_id"][:8], f"{r['reputation']:.2f}",
                      "yes" if r["quarantined"] else "", r["reason"])  # fmt: skip
    console.print(table)


@transfers_app.command("underperforming")
def underperforming(json_output: JsonOption = False) -> None:
    """Sources of active transfers judged stalled or too slow, with the reason."""
    with engine_session() as engine:
        engine.catch_up()
        with engine.projections["transfers"].engine.connect() as conn:
            rows = open_underperforming(conn)
    if json_output:
        print_json(rows)
        return
    table = Table("transfer", "file", "peer", "since", "reason")
    for r in rows:
        table.add_row(r["transfer_id"][:8], r["filename"] or "", r["peer_id"][:8],
                      str(r["reported_at"])[:19], r["reason"])  # fmt: skip
    console.print(table if rows else "no underperforming sources")


@swarm_app.command("simulate")
def simulate_cmd(
    sources: Annotated[int, typer.Option(help="Number of sources (2–12).")] = 6,
    seed: Annotated[int, typer.Option(help="Scenario seed.")] = 1,
    faults: Annotated[
        bool, typer.Option(help="A stalling, failing or corrupt source at times.")
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Download a simulated file from simulated peers through the real engine and event log."""
    from slskdn.simulation.scenario import random_scenario
    from slskdn.simulation.through_engine import describe, simulate

    if not 1 <= sources <= 64:
        fail("--sources must be between 1 and 64", code=EXIT_BAD_INPUT)
    scenario = random_scenario(seed, sources=sources, faults=faults)
    with engine_session() as engine:
        result = describe(simulate(engine, scenario, session_config(current_settings())))
    result["scenario"] = scenario.name
    result["file_size"] = scenario.file_size
    if json_output:
        print_json(result)
        return
    console.print(
        f"{scenario.name}: {scenario.file_size:,} bytes from {sources} sources in "
        f"{result['virtual_seconds']:.1f} simulated s; complete={result['complete']} "
        f"sha256_ok={result['sha256_ok']} wasted={result['wasted_bytes']:,}",
        highlight=False,
    )
    table = Table("source", "bytes served")
    for name, served in sorted(result["bytes_by_source"].items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{served:,}")
    console.print(table)
    for peer, reason in result["convicted"].items():
        console.print(f"convicted: {peer}: {reason}", highlight=False)
    console.print(f"history: slskdn audit transfer {result['transfer_id']}", highlight=False)


def register(app: typer.Typer) -> None:
    swarm_app.add_typer(stats_app, name="stats")
    app.add_typer(swarm_app, name="swarm")
    app.add_typer(mesh_app, name="mesh")
    app.add_typer(transfers_app, name="transfers")

"""`slskdn search`, `slskdn download` and `slskdn sandbox demo`: Soulseek from the CLI.

Each command logs in for its own duration (the daemon keeps one session instead), on the
engine's asyncio loop; downloads run through the swarm engine, so every decision lands in
the event log (`slskdn audit transfer <id>` afterwards). `--sandbox` uses the loopback
network that `slskdn sandbox up` started instead of the configured server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

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
from slskdn.cli.sandbox_cmd import RootOption, running_sandbox, sandbox_app, sandbox_root
from slskdn.domain.candidates import CandidateGroup, Offer, group_offers
from slskdn.engine import Engine
from slskdn.soulseek.client import SessionConfig, SoulseekSession
from slskdn.soulseek.swarm_download import download_multi_source
from slskdn.swarm_settings import session_config

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SandboxOption = Annotated[bool, typer.Option("--sandbox", help="Use the running `slskdn sandbox`.")]
WindowOption = Annotated[float, typer.Option("--window", help="Seconds to collect search results.")]


def session_settings(sandbox: bool, root: Path | None, username: str) -> SessionConfig:
    settings = current_settings()
    downloads = settings.library.downloads.expanduser()
    if sandbox:
        where = sandbox_root(root)
        state = running_sandbox(where)
        if state is None:
            fail(f"no sandbox running in {where}: start one with `slskdn sandbox up`")
        return SessionConfig(
            host=state["server"]["host"], port=state["server"]["port"], username=username,
            password=state["password"], download_dir=where / "downloads",
            listen_host="127.0.0.1", listen_port=0, requeue_interval=1.0,
        )  # fmt: skip
    s = settings.soulseek
    if not s.username or not s.password.get_secret_value():
        fail("set soulseek.username and soulseek.password (or use --sandbox)", code=EXIT_BAD_INPUT)
    return SessionConfig(
        host=s.server_host, port=s.server_port, username=s.username,
        password=s.password.get_secret_value(), download_dir=downloads,
        listen_host=s.listen_host, listen_port=s.listen_port, upload_slots=s.upload_slots,
        upload_speed_kbps=s.upload_speed_kbps, download_speed_kbps=s.download_speed_kbps,
        login_timeout=s.login_timeout_s,
    )  # fmt: skip


@contextmanager
def _logged_in(config: SessionConfig) -> Iterator[tuple[Engine, SoulseekSession]]:
    with engine_session() as engine:
        assert engine.loop is not None
        session = SoulseekSession(config)
        try:
            engine.loop.submit(session.start()).result(config.login_timeout + 10)
        except Exception as exc:
            fail(f"cannot log in to {config.host}:{config.port} as {config.username}: {exc}")
        try:
            yield engine, session
        finally:
            engine.loop.submit(session.stop()).result(30)


def _search(
    engine: Engine, session: SoulseekSession, query: str, window: float
) -> list[CandidateGroup]:
    assert engine.loop is not None
    results = engine.loop.submit(session.search(query, window_s=window)).result(window + 30)
    offers = [
        Offer(r.username, r.path, r.size, r.speed, r.free_slot, r.queue_length, r.bitrate)
        for r in results
    ]
    return group_offers(offers)


def _groups_json(groups: list[CandidateGroup]) -> list[dict[str, Any]]:
    return [
        {
            "name": g.name,
            "size": g.size,
            "sources": g.sources,
            "offers": [asdict(o) for o in g.offers],
        }
        for g in groups
    ]


def search(
    query: Annotated[str, typer.Argument(help="Search words.")],
    window: WindowOption = 5.0,
    sandbox: SandboxOption = False,
    root: RootOption = None,
    json_output: JsonOption = False,
) -> None:
    """Search the network; results grouped into copies of the same file (name + size)."""
    with _logged_in(session_settings(sandbox, root, "slskdn-search")) as (engine, session):
        groups = _search(engine, session, query, window)
    if json_output:
        print_json(_groups_json(groups))
        return
    table = Table("file", "bytes", "sources", "peers")
    for g in groups:
        table.add_row(
            g.name, f"{g.size:,}", str(g.sources), ", ".join(o.username for o in g.offers)
        )
    console.print(table if groups else f"no results for {query!r}")


def _download(
    engine: Engine, session: SoulseekSession, group: CandidateGroup, multi_source: bool
) -> dict[str, Any]:
    offers = group.offers if multi_source else group.offers[:1]
    sources = [(o.username, o.path) for o in offers]
    dest = session.local_path_for(offers[0].path)
    result = download_multi_source(
        engine, session, sources, group.size, dest, session_config(current_settings()),
        filename=group.name,
    )  # fmt: skip
    return {
        "transfer_id": str(result.transfer_id),
        "ok": result.ok,
        "path": str(result.dest_path or result.part_path),
        "sha256": result.sha256,
        "seconds": round(result.seconds, 3),
        "bytes_by_peer": result.bytes_by_peer,
        "convicted": result.convicted,
        "reason": result.reason,
    }


def download(
    user: Annotated[Optional[str], typer.Argument(help="Peer to download from.")] = None,  # noqa: UP045
    path: Annotated[Optional[str], typer.Argument(help="Remote path on that peer.")] = None,  # noqa: UP045
    query: Annotated[
        str | None, typer.Option("--query", help="Search, then fetch the best group.")
    ] = None,
    multi_source: Annotated[
        bool,
        typer.Option(
            "--multi-source/--single-source",
            help="With USER PATH: add every other peer sharing the same file.",
        ),
    ] = True,
    window: WindowOption = 5.0,
    sandbox: SandboxOption = False,
    root: RootOption = None,
    json_output: JsonOption = False,
) -> None:
    """Download a file from one peer, or from every peer that shares a copy of it."""
    if (query is None) == (user is None or path is None):
        fail("give USER PATH, or --query", code=EXIT_BAD_INPUT)
    with _logged_in(session_settings(sandbox, root, "slskdn-download")) as (engine, session):
        if query is not None:
            groups = _search(engine, session, query, window)
            if not groups:
                fail(f"no results for {query!r}")
            group = groups[0]
        else:
            assert user is not None and path is not None
            name = path.replace("\\", "/").rsplit("/", 1)[-1]
            groups = [g for g in _search(engine, session, name, window)
                      if any(o.username == user and o.path == path for o in g.offers)]  # fmt: skip
            if not groups:
                fail(f"{user} does not offer {path} (not in search results for {name!r})")
            group = groups[0]
            if not multi_source:
                mine = tuple(o for o in group.offers if o.username == user)
                group = CandidateGroup(group.name, group.size, mine)
        outcome = _download(engine, session, group, multi_source)
    _print_download(outcome, json_output)
    if not outcome["ok"]:
        raise typer.Exit(1)


def _print_download(outcome: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(outcome)
        return
    status = "done" if outcome["ok"] else f"failed: {outcome['reason']}"
    console.print(
        f"{outcome['path']}: {status} in {outcome['seconds']:.1f} s, sha256 {outcome['sha256']}",
        highlight=False,
    )
    table = Table("peer", "bytes served")
    for peer, served in sorted(outcome["bytes_by_peer"].items(), key=lambda kv: -kv[1]):
        table.add_row(peer, f"{served:,}")
    console.print(table)
    for peer, reason in outcome["convicted"].items():
        console.print(f"convicted: {peer}: {reason}", highlight=False)
    console.print(f"history: slskdn audit transfer {outcome['transfer_id']}", highlight=False)


@sandbox_app.command("demo")
def demo(root: RootOption = None, json_output: JsonOption = False) -> None:
    """Download a sandbox track from all its peers at once and show who served what."""
    where = sandbox_root(root)
    state = running_sandbox(where)
    if state is None:
        fail(f"no sandbox running in {where}: start one with `slskdn sandbox up`")
    track = next(f for f in state["files"] if f["path"].endswith(".flac"))
    name = track["path"].rsplit("/", 1)[-1]
    with _logged_in(session_settings(True, root, "slskdn-demo")) as (engine, session):
        groups = [g for g in _search(engine, session, name, 3.0) if g.size == track["size"]]
        if not groups:
            fail(f"no sandbox peer answered a search for {name!r}")
        outcome = _download(engine, session, groups[0], multi_source=True)
    outcome["sha256_ok"] = outcome["sha256"] == track["sha256"]
    if not json_output:
        console.print(f"searched {name!r}: {groups[0].sources} peers share it", highlight=False)
    _print_download(outcome, json_output)
    if not json_output:
        console.print(f"matches the sandbox's copy: {outcome['sha256_ok']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("download")(download)

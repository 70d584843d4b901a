"""`slskdn search`, `slskdn download` and `slskdn sandbox demo`: Soulseek from the CLI.

When a daemon of the same app directory is running and logged in to the same server, the
commands go through its HTTP API (`--no-daemon` to refuse); otherwise each logs in for its
own duration and runs the same download service in-process. Downloads are jobs with their
transfers in the event log (`slskdn audit job <id>` afterwards). `--sandbox` uses the
loopback network that `slskdn sandbox up` started instead of the configured server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import ValidationError
from rich.table import Table

from slskdn.cli.common import (
    EXIT_BAD_INPUT,
    console,
    current_settings,
    engine_session,
    err_console,
    fail,
    print_json,
)
from slskdn.cli.sandbox_cmd import RootOption, running_sandbox, sandbox_app, sandbox_root
from slskdn.daemon.client import DaemonClient, DaemonError, running_daemon
from slskdn.daemon.downloads import DownloadService
from slskdn.daemon.requests import DownloadRequest
from slskdn.engine import Engine
from slskdn.soulseek.client import SessionConfig, SoulseekSession
from slskdn.soulseek.lookup import group_record, probe_groups, search_groups

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SandboxOption = Annotated[bool, typer.Option("--sandbox", help="Use the running `slskdn sandbox`.")]
WindowOption = Annotated[float, typer.Option("--window", help="Seconds to collect search results.")]
DaemonOption = Annotated[
    bool, typer.Option("--daemon/--no-daemon", help="Use the running daemon when there is one.")
]


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


def _daemon_for(config: SessionConfig, use_daemon: bool) -> DaemonClient | None:
    """The running daemon of this app directory, if it is logged in to ``config``'s server."""
    if not use_daemon:
        return None
    settings = current_settings()
    found = running_daemon(settings.app_dir.expanduser(),
                           [k.get_secret_value() for k in settings.api.keys])  # fmt: skip
    if found is None:
        return None
    client, state = found
    if state.get("network", {}).get("server") != f"{config.host}:{config.port}":
        client.close()
        return None
    err_console.print(f"via the daemon at {client.url} (pid {state['pid']})", highlight=False)
    return client


def search(
    query: Annotated[str, typer.Argument(help="Search words.")],
    window: WindowOption = 5.0,
    sandbox: SandboxOption = False,
    root: RootOption = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Probe the best groups: split differing copies.")
    ] = False,
    use_daemon: DaemonOption = True,
    json_output: JsonOption = False,
) -> None:
    """Search the network; results grouped into copies of the same file (name + size)."""
    config = session_settings(sandbox, root, "slskdn-search")
    daemon = _daemon_for(config, use_daemon)
    if daemon is not None:
        with daemon:
            try:
                records = daemon.search(query, window, probe)
            except DaemonError as exc:
                fail(str(exc))
    else:
        with _logged_in(config) as (engine, session):
            assert engine.loop is not None and engine.actors is not None
            groups = search_groups(engine.loop, session, query, window)
            if probe:
                groups = probe_groups(engine.loop, engine.actors, session, groups).groups
        records = [group_record(g) for g in groups]
    if json_output:
        print_json(records)
        return
    table = Table("file", "bytes", "sources", "peers", *(["probe"] if probe else []))
    for g in records:
        status = [(g["digests"][-1][:12] if g["digests"] else "unconfirmed")] if probe else []
        table.add_row(
            g["name"], f"{g['size']:,}", str(g["sources"]),
            ", ".join(o["username"] for o in g["offers"]), *status,
        )  # fmt: skip
    console.print(table if records else f"no results for {query!r}")
    for g in records:
        for user, reason in g["probe_failures"].items():
            console.print(f"probe failed: {user}: {reason}", highlight=False)


def download(
    user: Annotated[Optional[str], typer.Argument(help="Peer to download from.")] = None,  # noqa: UP045
    path: Annotated[Optional[str], typer.Argument(help="Remote path on that peer.")] = None,  # noqa: UP045
    query: Annotated[
        str | None,
        typer.Option("--query", help="Search, probe, then fetch the best confirmed group."),
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
    use_daemon: DaemonOption = True,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Through the daemon: wait for the end.")
    ] = True,
    play: Annotated[
        bool,
        typer.Option("--play", help="Playback mode: fetch what a player needs next first "
                     "(move its play head with `slskdn seek JOB SECONDS`)."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Download a file from one peer, or from every peer that shares a copy of it."""
    if (query is None) == (user is None or path is None):
        fail("give USER PATH, or --query", code=EXIT_BAD_INPUT)
    try:
        request = DownloadRequest(username=user, path=path, query=query,
                                  multi_source=multi_source, window=window,
                                  play=play)  # fmt: skip
    except ValidationError as exc:
        fail(f"bad download request: {exc.errors()[0]['msg']}", code=EXIT_BAD_INPUT)
    config = session_settings(sandbox, root, "slskdn-download")
    daemon = _daemon_for(config, use_daemon)
    if daemon is not None:
        with daemon:
            try:
                outcome = daemon.submit(request.model_dump(exclude_none=True))
                if wait:
                    outcome = daemon.wait(outcome["job_id"])
            except DaemonError as exc:
                fail(str(exc))
        if not wait:
            if json_output:
                print_json(outcome)
            else:
                console.print(f"queued: job {outcome['job_id']}", highlight=False)
            return
    else:
        outcome = _run_here(config, request)
    _print_download(outcome, json_output)
    if not outcome["ok"]:
        raise typer.Exit(1)


def seek(
    job_id: Annotated[str, typer.Argument(help="The playback download's job id.")],
    seconds: Annotated[float, typer.Argument(help="Where the player is, in seconds.", min=0)],
    sandbox: SandboxOption = False,
    root: RootOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move a playback download's play head (through the running daemon)."""
    daemon = _daemon_for(session_settings(sandbox, root, "slskdn-seek"), True)
    if daemon is None:
        fail("no daemon is running: a play head lives in the daemon (`slskdn daemon`)")
    with daemon:
        try:
            outcome = daemon.seek(job_id, seconds)
        except DaemonError as exc:
            fail(str(exc))
    if json_output:
        print_json(outcome)
    else:
        play = outcome["play"]
        console.print(f"job {job_id}: play head at {play['seconds']:.1f} s "
                      f"(byte {play['offset']:,})", highlight=False)  # fmt: skip


def _run_here(config: SessionConfig, request: DownloadRequest) -> dict[str, Any]:
    """The download service in this process, for one request."""
    with _logged_in(config) as (engine, session):
        service = DownloadService(engine, session, max_parallel=1)
        try:
            download = service.run(request, origin="cli")
        finally:
            service.stop()
        return download.record()


def _print_download(outcome: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(outcome)
        return
    status = "done" if outcome["ok"] else f"{outcome['state']}: {outcome['reason']}"
    seconds = outcome["seconds"] or 0.0
    console.print(
        f"{outcome['path'] or outcome['name']}: {status} in {seconds:.1f} s, "
        f"sha256 {outcome['sha256']}",
        highlight=False,
    )
    table = Table("peer", "bytes served")
    for peer, served in sorted(outcome["bytes_by_peer"].items(), key=lambda kv: -kv[1]):
        table.add_row(peer, f"{served:,}")
    console.print(table)
    for peer, why in (outcome.get("probe") or {}).get("left_out", {}).items():
        console.print(f"not a source: {peer}: {why}", highlight=False)
    for peer, reason in outcome["convicted"].items():
        console.print(f"convicted: {peer}: {reason}", highlight=False)
    console.print(f"history: slskdn audit job {outcome['job_id']}", highlight=False)


@sandbox_app.command("demo")
def demo(root: RootOption = None, json_output: JsonOption = False) -> None:
    """Download a sandbox track from all its peers at once and show who served what."""
    where = sandbox_root(root)
    state = running_sandbox(where)
    if state is None:
        fail(f"no sandbox running in {where}: start one with `slskdn sandbox up`")
    track = next(f for f in state["files"] if f["path"].endswith(".flac"))
    name = track["path"].rsplit("/", 1)[-1]
    outcome = _run_here(session_settings(True, root, "slskdn-demo"),
                        DownloadRequest(query=name, window=3.0))  # fmt: skip
    outcome["sha256_ok"] = outcome["sha256"] == track["sha256"]
    if not json_output:
        sources = len((outcome.get("probe") or {}).get("sources", []))
        console.print(f"searched {name!r}: {sources} peers share a confirmed copy",
                      highlight=False)  # fmt: skip
    _print_download(outcome, json_output)
    if not json_output:
        console.print(f"matches the sandbox's copy: {outcome['sha256_ok']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("download")(download)
    app.command("seek")(seek)

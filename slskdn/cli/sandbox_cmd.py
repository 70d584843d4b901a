"""`slskdn sandbox up|down|status`: a loopback Soulseek network to try slskdn against.

`up` starts `python -m slskdn.soulseek.sandbox ROOT` as a background process (the loopback
server, plus five peers sharing a generated album, one slow, one stalling, one corrupt, each
in a child process of its own) and waits until it has written ROOT/sandbox.json; `status`
reads that file; `down` sends SIGTERM to the recorded pid, which stops the peers' processes
(they also exit by themselves if it dies). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from slskdn.cli.common import console, current_settings, fail, print_json
from slskdn.soulseek.sandbox import STATE_FILE, read_state

sandbox_app = typer.Typer(
    help="A loopback Soulseek network for trying slskdn.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RootOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--root", help="Sandbox directory (default: <app_dir>/sandbox)."),
]


def sandbox_root(root: Path | None) -> Path:
    return (root or current_settings().app_path / "sandbox").expanduser().absolute()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_sandbox(root: Path) -> dict[str, Any] | None:
    state = read_state(root)
    if state is None or not _alive(int(state.get("pid", 0))):
        return None
    return state


@sandbox_app.command("up")
def up(root: RootOption = None, json_output: JsonOption = False) -> None:
    """Start the sandbox in the background (no-op if it is already running)."""
    where = sandbox_root(root)
    state = running_sandbox(where)
    if state is None:
        where.mkdir(parents=True, exist_ok=True)
        (where / STATE_FILE).unlink(missing_ok=True)
        log = (where / "sandbox.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "slskdn.soulseek.sandbox", str(where)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while (state := running_sandbox(where)) is None:
            if proc.poll() is not None:
                fail(f"the sandbox exited with code {proc.returncode}; see {where / 'sandbox.log'}")
            if time.monotonic() > deadline:
                proc.terminate()
                fail(f"the sandbox did not start within 60 s; see {where / 'sandbox.log'}")
            time.sleep(0.1)
    _show(state, where, json_output)


@sandbox_app.command("status")
def status(root: RootOption = None, json_output: JsonOption = False) -> None:
    """Whether the sandbox runs, where its server is, and who shares what."""
    where = sandbox_root(root)
    state = running_sandbox(where)
    if state is None:
        if json_output:
            print_json({"running": False, "root": str(where)})
        else:
            console.print(f"no sandbox running in {where}", highlight=False)
        raise typer.Exit(1)
    _show(state, where, json_output)


@sandbox_app.command("down")
def down(root: RootOption = None) -> None:
    """Stop the sandbox (SIGTERM, then wait up to 30 s)."""
    where = sandbox_root(root)
    state = running_sandbox(where)
    if state is None:
        console.print(f"no sandbox running in {where}", highlight=False)
        return
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        fail(f"sandbox process {pid} did not stop within 30 s")
    console.print(f"sandbox in {where} stopped", highlight=False)


def _show(state: dict[str, Any], root: Path, json_output: bool) -> None:
    if json_output:
        print_json({"running": True, "root": str(root), **state})
        return
    server = state["server"]
    console.print(
        f"sandbox running (pid {state['pid']}): server {server['host']}:{server['port']}, "
        f"password {state['password']!r} for any user name",
        highlight=False,
    )
    table = Table("peer", "upload KiB/s", "misbehaviour", "online", "pid")
    for p in state["peers"]:
        quirks = ", ".join(f"{k}={v}" for k, v in p["misbehaviour"].items() if v)
        table.add_row(p["name"], str(p["upload_kbps"]), quirks, "yes" if p["online"] else "no",
                      str(p.get("pid", "")))
    console.print(table)
    files = Table("shared file", "bytes")
    for f in state["files"]:
        files.add_row(f["path"], f"{f['size']:,}")
    console.print(files)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")

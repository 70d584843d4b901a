"""The CLI through its front door: a real `slskdn` process per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SLSKDN = [sys.executable, "-m", "slskdn.cli.main"]


def slskdn(
    app_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SLSKDN_")}
    full_env.update({"SLSKDN_APP_DIR": str(app_dir), "NO_COLOR": "1", "COLUMNS": "200"})
    full_env.update(env or {})
    return subprocess.run(
        [*SLSKDN, *args], capture_output=True, text=True, env=full_env, timeout=60, check=False
    )


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = slskdn(
        tmp_path, "config", "show", "--json", env={"SLSKDN_SOULSEEK_PASSWORD": "hunter2"}
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["settings"]["soulseek"]["password"] == "**********"
    assert "hunter2" not in result.stdout


def test_a_bad_config_key_exits_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "slskdn.yml").write_text("actors:\n  comit_every_ms: 4\n")
    result = slskdn(tmp_path, "events", "list")
    assert result.returncode == 2
    assert "actors.comit_every_ms: unknown key" in result.stderr


def test_job_history_can_be_listed_replayed_and_audited(tmp_path: Path) -> None:
    created = slskdn(tmp_path, "jobs", "add", "release", "mbid-1", "--json")
    assert created.returncode == 0, created.stderr
    job = json.loads(created.stdout)
    cancelled = slskdn(tmp_path, "jobs", "cancel", job["ulid"], "--reason", "changed my mind")
    assert cancelled.returncode == 0, cancelled.stderr

    events = json.loads(slskdn(tmp_path, "events", "list", "--json").stdout)
    assert [e["type"] for e in events] == ["Job.Created", "Job.Cancelled"]
    only = json.loads(slskdn(tmp_path, "events", "list", "--type", "Cancelled", "--json").stdout)
    assert only[0]["data"]["reason"] == "changed my mind"

    v1 = json.loads(slskdn(tmp_path, "replay", job["ulid"], "--version", "1", "--json").stdout)
    assert (v1["state"]["status"], v1["latest_version"]) == ("created", 2)
    at = json.loads(
        slskdn(tmp_path, "replay", job["job_id"], "--at", events[1]["time"], "--json").stdout
    )
    assert at["state"]["status"] == "cancelled"

    audit = slskdn(tmp_path, "audit", "job", job["ulid"])
    assert audit.returncode == 0
    assert "Job.Cancelled" in audit.stdout and "changed my mind" in audit.stdout

    listed = json.loads(slskdn(tmp_path, "jobs", "list", "--json").stdout)
    assert [(j["ulid"], j["status"]) for j in listed] == [(job["ulid"], "cancelled")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "01JD0000000000000000000000"], "no aggregate with id"),
        (["replay", "not-an-id"], "neither a ULID nor a UUID"),
        (["replay", "01JD0000000000000000000000", "--at", "yesterday"], "is not a time"),
        (["events", "list", "--since", "31/12/2026"], "is not a time"),
        (["jobs", "add", "album", "x"], "unknown job kind"),
        (["projections", "rebuild", "nope"], "unknown projection"),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = slskdn(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr


def test_a_version_past_the_end_is_refused(tmp_path: Path) -> None:
    job = json.loads(slskdn(tmp_path, "jobs", "add", "track", "x", "--json").stdout)
    result = slskdn(tmp_path, "replay", job["ulid"], "--version", "5")
    assert result.returncode == 2
    assert "version 5 is out of range" in result.stderr and "has 1..1" in result.stderr


def test_a_corrupt_database_is_named_and_exits_nonzero(tmp_path: Path) -> None:
    (tmp_path / "slskdn.db").write_bytes(b"garbage" * 1000)
    result = slskdn(tmp_path, "events", "list")
    assert result.returncode == 1
    assert "slskdn.db" in result.stderr and "not a database" in result.stderr
    assert "Traceback" not in result.stderr


def test_projections_can_be_rebuilt_from_the_cli(tmp_path: Path) -> None:
    slskdn(tmp_path, "jobs", "add", "track", "x")
    rebuilt = json.loads(slskdn(tmp_path, "projections", "rebuild", "activity", "--json").stdout)
    assert rebuilt["events"] == 1
    status = json.loads(slskdn(tmp_path, "projections", "status", "--json").stdout)
    assert {s["name"] for s in status} >= {"activity", "library", "health"}
    assert all((s["position"], s["head"], s["lag"]) == (1, 1, 0) for s in status)
    assert not any(s["needs_rebuild"] for s in status)

"""`slskdn sandbox up|status|down` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def slskdn(app_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLSKDN_")}
    env.update({"SLSKDN_APP_DIR": str(app_dir), "NO_COLOR": "1"})
    return subprocess.run(
        [sys.executable, "-m", "slskdn.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_the_sandbox_comes_up_reports_its_peers_and_goes_down(tmp_path: Path) -> None:
    try:
        up = slskdn(tmp_path, "sandbox", "up", "--json")
        assert up.returncode == 0, up.stderr
        state = json.loads(up.stdout)
        assert state["server"]["host"] == "127.0.0.1"
        assert sorted(state["online"]) == ["corrupt", "fast-1", "fast-2", "slow", "staller"]
        again = json.loads(slskdn(tmp_path, "sandbox", "up", "--json").stdout)
        assert again["pid"] == state["pid"]  # already running: not started twice
        status = json.loads(slskdn(tmp_path, "sandbox", "status", "--json").stdout)
        assert status["running"] and len(status["files"]) == 4
    finally:
        down = slskdn(tmp_path, "sandbox", "down")
    assert down.returncode == 0, down.stderr
    gone = slskdn(tmp_path, "sandbox", "status", "--json")
    assert gone.returncode == 1
    assert json.loads(gone.stdout) == {"running": False, "root": str(tmp_path / "sandbox")}

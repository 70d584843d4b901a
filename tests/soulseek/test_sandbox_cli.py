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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_sandbox_comes_up_reports_its_peers_and_goes_down(tmp_path: Path) -> None:
    try:
        up = slskdn(tmp_path, "sandbox", "up", "--json")
        assert up.returncode == 0, up.stderr
        state = json.loads(up.stdout)
        assert state["server"]["host"] == "127.0.0.1"
        assert sorted(state["online"]) == ["corrupt", "fast-1", "fast-2", "slow", "staller"]
        peer_pids = {p["pid"] for p in state["peers"]}
        assert len(peer_pids) == 5 and state["pid"] not in peer_pids  # a process per peer
        assert all(_alive(pid) for pid in peer_pids)
        again = json.loads(slskdn(tmp_path, "sandbox", "up", "--json").stdout)
        assert again["pid"] == state["pid"]  # already running: not started twice
        status = json.loads(slskdn(tmp_path, "sandbox", "status", "--json").stdout)
        assert status["running"] and len(status["files"]) == 4
    finally:
        down = slskdn(tmp_path, "sandbox", "down")
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in peer_pids)  # down stops the peers' processes too
    gone = slskdn(tmp_path, "sandbox", "status", "--json")
    assert gone.returncode == 1
    assert json.loads(gone.stdout) == {"running": False, "root": str(tmp_path / "sandbox")}


def test_search_download_and_demo_against_the_sandbox(tmp_path: Path) -> None:
    try:
        state = json.loads(slskdn(tmp_path, "sandbox", "up", "--json").stdout)
        track = next(f for f in state["files"] if f["path"].endswith("02 - Track 2.flac"))
        found = slskdn(tmp_path, "search", "Track 2", "--sandbox", "--window", "2", "--json")
        assert found.returncode == 0, found.stderr
        groups = json.loads(found.stdout)
        assert (groups[0]["name"], groups[0]["size"], groups[0]["sources"]) == (
            "02 - Track 2.flac", track["size"], 5,
        )  # fmt: skip
        got = slskdn(tmp_path, "download", "--query", "Track 2", "--sandbox", "--window", "2",
                     "--json")  # fmt: skip
        assert got.returncode == 0, got.stderr
        outcome = json.loads(got.stdout)
        assert outcome["ok"] and outcome["sha256"] == track["sha256"]
        assert len([p for p, n in outcome["bytes_by_peer"].items() if n > 0]) >= 2
        assert Path(outcome["path"]).is_relative_to(tmp_path / "sandbox" / "downloads")
        audit = json.loads(
            slskdn(tmp_path, "audit", "transfer", outcome["transfer_id"], "--json").stdout
        )
        assert audit["status"] == "completed"
        demo = json.loads(slskdn(tmp_path, "sandbox", "demo", "--json").stdout)
        assert demo["ok"] and demo["sha256_ok"]
    finally:
        slskdn(tmp_path, "sandbox", "down")


def test_download_without_credentials_or_sandbox_says_what_to_set(tmp_path: Path) -> None:
    result = slskdn(tmp_path, "download", "--query", "anything")
    assert result.returncode == 2
    assert "soulseek.username" in result.stderr


def test_the_daemon_logs_in_shares_the_library_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    music = tmp_path / "Music" / "Daemon Artist"
    music.mkdir(parents=True)
    (music / "Only On The Daemon.flac").write_bytes(b"fLaC" + bytes(range(256)) * 40)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLSKDN_")}
    env.update(
        {"SLSKDN_APP_DIR": str(tmp_path), "SLSKDN_LIBRARY_DIRECTORIES": f"[{tmp_path / 'Music'}]",
         "SLSKDN_API_PORT": "0"}
    )
    daemon = None
    try:
        assert slskdn(tmp_path, "sandbox", "up").returncode == 0
        daemon = subprocess.Popen(
            [sys.executable, "-m", "slskdn.cli.main", "--log-format", "json", "daemon",
             "--sandbox"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert daemon.stderr is not None
        deadline = time.monotonic() + 60
        for line in daemon.stderr:
            if "daemon running" in line or time.monotonic() > deadline:
                break
        found = json.loads(
            slskdn(
                tmp_path, "search", "Only On The Daemon", "--sandbox", "--window", "2", "--json",
                "--no-daemon",  # another user: the daemon's own searches skip its own shares
            ).stdout
        )
        assert [o["username"] for g in found for o in g["offers"]] == ["slskdn-daemon"]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        slskdn(tmp_path, "sandbox", "down")

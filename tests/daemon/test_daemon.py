"""The daemon as a user runs it: a process logged in to a (loopback) Soulseek network that
serves `slskdn search` / `slskdn download` over its HTTP API and resumes after kill -9."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from slskdn.actors.loop import LoopThread
from slskdn.config import load_settings
from slskdn.domain.spans import gaps
from slskdn.domain.swarm.verification import SPOT_BLOCKS
from slskdn.domain.transfer import Transfer
from slskdn.domain.transfer_progress import kept_bytes
from slskdn.soulseek.sandbox import PASSWORD, PeerSpec, Sandbox, SandboxFile
from slskdn.storage.database import DatabaseLocation
from slskdn.storage.event_store import EventStore

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
TRACK = "Resume Artist - Resume Album/01 - Long Track.bin"
SIZE = 6 * MiB
BLOCK = 64 * 1024  # the swarm's integrity block


@dataclass
class Network:
    sandbox: Sandbox
    host: str
    port: int

    def env(self, app_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLSKDN_")}
        env.update({
            "SLSKDN_APP_DIR": str(app_dir), "NO_COLOR": "1",
            "SLSKDN_SOULSEEK_SERVER_HOST": self.host, "SLSKDN_SOULSEEK_SERVER_PORT": str(self.port),
            "SLSKDN_SOULSEEK_USERNAME": "daemon-user", "SLSKDN_SOULSEEK_PASSWORD": PASSWORD,
            "SLSKDN_SOULSEEK_LISTEN_HOST": "127.0.0.1", "SLSKDN_SOULSEEK_LISTEN_PORT": "0",
            "SLSKDN_API_PORT": "0", "SLSKDN_LIBRARY_DOWNLOADS": str(app_dir / "downloads"),
        })  # fmt: skip
        return env


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    """Three peers at 512 KiB/s each sharing one 6 MiB file: about 4 s of download."""
    loop = LoopThread().start()
    peers = [PeerSpec(f"peer-{i}", upload_kbps=512) for i in range(3)]
    sandbox = Sandbox(tmp_path / "sandbox", [SandboxFile(TRACK, SIZE)], peers)
    loop.submit(sandbox.start()).result(60)
    try:
        yield Network(sandbox, sandbox.host, sandbox.server.port)
    finally:
        loop.submit(sandbox.stop()).result(60)
        loop.stop()


class Daemon:
    def __init__(self, app_dir: Path, env: dict[str, str]) -> None:
        self.app_dir, self.env = app_dir, env
        with open(app_dir / "daemon.log", "a") as log_file:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "slskdn.cli.main", "--log-format", "json", "daemon"],
                stdout=subprocess.DEVNULL, stderr=log_file, env=env,
            )  # fmt: skip
        self.url = self._wait_for_state()
        self.http = httpx.Client(base_url=self.url + "/api/v0", timeout=30)

    def _wait_for_state(self) -> str:
        deadline = time.monotonic() + 60
        state = self.app_dir / "daemon.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError((self.app_dir / "daemon.log").read_text()[-3000:])
            if state.exists():
                data = json.loads(state.read_text())
                if data["pid"] == self.proc.pid:
                    return str(data["api"]["url"])
            time.sleep(0.05)
        raise AssertionError("the daemon did not write daemon.json")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "slskdn.cli.main", *args],
                              capture_output=True, text=True, env=self.env, timeout=120,
                              check=False)  # fmt: skip

    def download(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/downloads/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(self, job_id: str, until: Any, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.download(job_id)
            if until(record):
                return record
            time.sleep(0.05)
        raise AssertionError(f"timed out; last: {record}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


def test_the_cli_downloads_through_the_daemon(tmp_path: Path, network: Network) -> None:
    daemon = Daemon(tmp_path, network.env(tmp_path))
    try:
        assert daemon.http.get("/status").json()["network"]["username"] == "daemon-user"
        found = daemon.cli("search", "Long Track", "--window", "2", "--json")
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)[0]["sources"] == 3
        got = daemon.cli("download", "--query", "Long Track", "--window", "2", "--json")
        assert got.returncode == 0, got.stderr
        outcome = json.loads(got.stdout)
        assert outcome["state"] == "completed", outcome
        assert sha256(Path(outcome["path"])) == network.sandbox.sha256(TRACK)
        assert Path(outcome["path"]).is_relative_to(tmp_path / "downloads")
        audit = json.loads(daemon.cli("audit", "job", outcome["job_id"], "--json").stdout)
        assert audit["status"] == "completed"
        bad = daemon.http.post("/downloads", json={"username": "peer-0"})
        assert bad.status_code == 422 and "query" in bad.text

        job_id = daemon.http.post("/downloads", json={"query": "Long Track"}).json()["job_id"]
        daemon.wait(job_id, lambda r: (r["bytes_received"] or 0) > 0)
        cancelled = daemon.cli("jobs", "cancel", job_id)
        assert cancelled.returncode == 0 and "daemon" in cancelled.stdout, cancelled.stderr
        record = daemon.wait(job_id, lambda r: r["state"] != "downloading")
        assert record["state"] == "cancelled"
        transfer = json.loads(
            daemon.cli("audit", "transfer", record["transfer_id"], "--json").stdout)
        assert transfer["status"] == "aborted"
    finally:
        assert daemon.stop() == 0
    assert not (tmp_path / "daemon.json").exists()


def test_a_download_killed_with_the_daemon_resumes_without_refetching_kept_bytes(
    tmp_path: Path, network: Network
) -> None:
    daemon = Daemon(tmp_path, network.env(tmp_path))
    try:
        job = daemon.http.post("/downloads", json={"query": "Long Track", "window": 2})
        assert job.status_code == 202, job.text
        job_id = job.json()["job_id"]
        first = daemon.wait(job_id, lambda r: (r["bytes_received"] or 0) >= SIZE // 3)
    finally:
        daemon.stop(signal.SIGKILL)
    assert first["state"] == "downloading"

    again = Daemon(tmp_path, network.env(tmp_path))  # finds the stale daemon.json's pid gone
    try:
        done = again.wait(job_id, lambda r: r["state"] in {"completed", "failed"})
    finally:
        assert again.stop() == 0
    assert done["state"] == "completed", done
    assert done["resumed_bytes"] >= SIZE // 4  # what the log said was on disk was kept
    assert sha256(Path(done["path"])) == network.sandbox.sha256(TRACK)

    settings = load_settings(env={"SLSKDN_APP_DIR": str(tmp_path)})
    store = EventStore(DatabaseLocation(settings.database_url, settings.database.lock_timeout_s))
    try:
        events = store.events_of(UUID(done["transfer_id"]))
    finally:
        store.close()
    resumed_at = next(i for i, e in enumerate(events) if isinstance(e, Transfer.Resumed))
    kept = kept_bytes(SIZE, events[:resumed_at])
    assert events[resumed_at].kept_bytes == kept.kept
    received = sorted(s for spans in kept.received.values() for s in spans)
    checked = 0
    for e in events[resumed_at:]:
        if isinstance(e, Transfer.RangeRequested):
            asked = (e.offset, e.offset + e.bytes)
            # A verified byte is never fetched again ...
            assert gaps(kept.verified, *asked) == [asked], f"{asked} overlaps verified bytes"
            checked += e.bytes - sum(b - a for a, b in gaps(received, *asked))
    # ... and a kept but unverified one only by a spot check (a source with nothing left to
    # fetch cross-checks the last blocks of another's largest unverified range, 4 blocks at
    # most, once per source): never the bulk of what was kept.
    assert checked <= 3 * SPOT_BLOCKS * BLOCK, f"{checked} kept bytes fetched again"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

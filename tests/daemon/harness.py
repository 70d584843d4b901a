"""A daemon process and the loopback network it logs in to, as the daemon tests use them."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from slskdn.soulseek.sandbox import PASSWORD, Sandbox

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


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

"""A request the daemon was still searching for when it stopped (kill -9 or a clean
shutdown) is asked again on the next start: the user asked for the file, not for one try."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from slskdn.daemon.requests import DownloadRequest

from .harness import TRACK, Daemon, Network, sha256

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_request_interrupted_while_searching_runs_again_on_the_next_start(
    tmp_path: Path, network: Network, sig: int
) -> None:
    daemon = Daemon(tmp_path, network.env(tmp_path))
    try:
        job = daemon.http.post("/downloads", json={"query": "Long Track", "window": 8})
        assert job.status_code == 202, job.text
        job_id = job.json()["job_id"]
        daemon.wait(job_id, lambda r: r["state"] == "searching")
    finally:
        code = daemon.stop(sig)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 0)

    again = Daemon(tmp_path, network.env(tmp_path))
    try:
        done = again.wait(job_id, lambda r: r["state"] in {"completed", "failed"}, timeout=120)
        audit = again.cli("audit", "job", job_id, "--json")
    finally:
        assert again.stop() == 0
    assert done["state"] == "completed", done
    assert sha256(Path(done["path"])) == network.sandbox.sha256(TRACK)
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["status"] == "completed"


def test_a_request_reads_back_from_its_jobs_target() -> None:
    for request in (DownloadRequest(query="a: b"),
                    DownloadRequest(username="peer", path="@@x\\dir: y\\f.flac")):
        again = DownloadRequest.from_target(request.target)
        assert again is not None
        assert (again.query, again.username, again.path) == (
            request.query, request.username, request.path)
    assert DownloadRequest.from_target("2f4a-release-mbid") is None
    assert DownloadRequest.from_target("soulseek:nopath") is None

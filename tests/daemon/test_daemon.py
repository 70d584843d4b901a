"""The daemon as a user runs it: a process logged in to a (loopback) Soulseek network that
serves `slskdn search` / `slskdn download` over its HTTP API and resumes after kill -9."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from uuid import UUID

import pytest

from slskdn.config import load_settings
from slskdn.domain.spans import gaps
from slskdn.domain.swarm.verification import SPOT_BLOCKS
from slskdn.domain.transfer import Transfer
from slskdn.domain.transfer_progress import kept_bytes
from slskdn.storage.database import DatabaseLocation
from slskdn.storage.event_store import EventStore

from .harness import BLOCK, SIZE, TRACK, Daemon, Network, sha256

pytestmark = pytest.mark.slow


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

        # The same file asked twice: one download fetches it, the other is refused with the
        # reason (two swarms on one part file would mix their bytes). From one peer, no probe:
        # 12 s at 512 KiB/s, so the second surely finds the first still running.
        offer = next(o for o in json.loads(found.stdout)[0]["offers"]
                     if o["username"] == "peer-0")
        ask = {"username": "peer-0", "path": offer["path"], "multi_source": False, "window": 1}
        first_id = daemon.http.post("/downloads", json=ask).json()["job_id"]
        daemon.wait(first_id, lambda r: (r["bytes_received"] or 0) > 0)
        second_id = daemon.http.post("/downloads", json=ask).json()["job_id"]
        second = daemon.wait(second_id, lambda r: r["state"] not in {"queued", "searching"})
        assert second["state"] == "failed", second
        assert second["reason"] == \
            f"01 - Long Track.bin is already being downloaded by job {first_id}"
        assert daemon.download(first_id)["state"] == "downloading"
        assert daemon.http.delete(f"/downloads/{first_id}").status_code == 200
        daemon.wait(first_id, lambda r: r["state"] == "cancelled")
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


def test_a_playback_download_killed_with_the_daemon_resumes_in_playback_mode(
    tmp_path: Path, network: Network
) -> None:
    daemon = Daemon(tmp_path, network.env(tmp_path))
    try:
        job = daemon.http.post("/downloads", json={"query": "Long Track", "window": 2,
                                                   "play": True})
        job_id = job.json()["job_id"]
        daemon.wait(job_id, lambda r: (r["bytes_received"] or 0) >= SIZE // 3)
    finally:
        daemon.stop(signal.SIGKILL)

    again = Daemon(tmp_path, network.env(tmp_path))
    try:
        resumed = again.wait(job_id, lambda r: r["state"] != "queued")
        moved = again.http.post(f"/downloads/{job_id}/play-position", json={"seconds": 1})
        done = again.wait(job_id, lambda r: r["state"] in {"completed", "failed"})
    finally:
        assert again.stop() == 0
    # The resumed transfer plays on. A .bin has no STREAMINFO to read its duration from: CD
    # audio's rate, as for a new request (a FLAC's kept header gives its own, see
    # tests/soulseek/test_play_head.py).
    assert resumed["play"] is not None and resumed["play"]["bitrate_kbps"] == 1411.2, resumed
    # The play head moves (unless the download already ended: then it is refused as such).
    assert moved.status_code == 200 or "no play head to move" in moved.text, moved.text
    assert done["state"] == "completed", done
    assert sha256(Path(done["path"])) == network.sandbox.sha256(TRACK)


def test_a_playback_download_moves_its_play_head_over_http_and_the_cli(
    tmp_path: Path, network: Network
) -> None:
    daemon = Daemon(tmp_path, network.env(tmp_path))
    try:
        # A download asked without play has no play head (cancelled at once: one file is
        # fetched by one download at a time, a second is refused).
        plain_id = daemon.http.post("/downloads", json={"query": "Long Track"}).json()["job_id"]
        assert daemon.http.delete(f"/downloads/{plain_id}").status_code == 200
        daemon.wait(plain_id, lambda r: r["state"] == "cancelled")
        job = daemon.http.post("/downloads", json={"query": "Long Track", "window": 2,
                                                   "play": True})
        assert job.status_code == 202, job.text
        job_id = job.json()["job_id"]
        daemon.wait(job_id, lambda r: r["state"] == "downloading")

        moved = daemon.http.post(f"/downloads/{job_id}/play-position", json={"seconds": 20})
        assert moved.status_code == 200, moved.text
        play = moved.json()["play"]
        # A .bin has no duration: the rate is CD audio's, uncompressed (1411.2 kbps).
        assert play["bitrate_kbps"] == 1411.2
        assert play["offset"] == 20 * 1411200 // 8 and play["seconds"] == 20.0
        by_cli = daemon.cli("seek", job_id, "3.5")
        assert by_cli.returncode == 0, by_cli.stderr
        assert "play head at 3.5 s" in by_cli.stdout
        assert daemon.download(job_id)["play"]["offset"] == int(3.5 * 1411200 / 8)

        not_playing = daemon.http.post(f"/downloads/{plain_id}/play-position",
                                       json={"seconds": 1})
        assert not_playing.status_code == 409 and "playback" in not_playing.text
        unknown = daemon.http.post("/downloads/00000000-0000-0000-0000-000000000000"
                                   "/play-position", json={"seconds": 1})
        assert unknown.status_code == 404
        both = daemon.http.post(f"/downloads/{job_id}/play-position",
                                json={"seconds": 1, "offset": 5})
        assert both.status_code == 422

        done = daemon.wait(job_id, lambda r: r["state"] in {"completed", "failed"})
        assert done["state"] == "completed", done
        assert sha256(Path(done["path"])) == network.sandbox.sha256(TRACK)
        late = daemon.http.post(f"/downloads/{job_id}/play-position", json={"seconds": 1})
        assert late.status_code == 409 and "completed" in late.text
    finally:
        assert daemon.stop() == 0

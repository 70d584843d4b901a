"""`slskdn library …` through its front door."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from slskdn.testing.library import TrackTagsSpec, write_track


def slskdn(app_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLSKDN_")}
    env.update({"SLSKDN_APP_DIR": str(app_dir), "NO_COLOR": "1", "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "slskdn.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_scan_quality_and_canonical_from_the_cli(tmp_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    tags = TrackTagsSpec("Artist", "Album", "Song", 1, 1, *ids)
    write_track(tmp_path / "lib" / "song.flac", "flac", tags=tags)
    write_track(tmp_path / "lib" / "song.mp3", "mp3_128", tags=tags)
    (tmp_path / "lib" / "junk.flac").write_bytes(b"")

    scanned = slskdn(tmp_path / "app", "library", "scan", str(tmp_path / "lib"), "--json")
    assert scanned.returncode == 0, scanned.stderr
    summary = json.loads(scanned.stdout)
    assert {k: summary[k] for k in ("files", "analysed", "unreadable")} == {
        "files": 3, "analysed": 3, "unreadable": 1,
    }  # fmt: skip

    quality = slskdn(tmp_path / "app", "library", "quality", str(tmp_path / "lib"), "--json")
    records = {Path(r["path"]).name: r for r in json.loads(quality.stdout)}
    assert records["junk.flac"]["error"] == "empty file (0 bytes)"
    assert records["song.mp3"]["codec"] == "mp3"
    assert records["song.flac"]["mbids"]["recording_id"] == ids[0]
    assert {"quality_score", "transcode_suspect", "cutoff_hz", "upsampled", "fingerprint"} <= set(
        records["song.flac"]
    )

    canonical = slskdn(tmp_path / "app", "library", "canonical", "--recording", ids[0], "--json")
    result = json.loads(canonical.stdout)
    assert [Path(c["path"]).name for c in result["candidates"]] == ["song.flac", "song.mp3"]


def test_a_missing_path_exits_2_naming_it(tmp_path: Path) -> None:
    result = slskdn(tmp_path, "library", "scan", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "nope: no such file or folder" in result.stderr

"""`slskdn doctor …` through its front door, with MusicBrainz on loopback for --fetch-missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from slskdn.testing.library import TrackTagsSpec, write_track
from tests.musicbrainz.server import SHARED_FIXTURES, FakeMusicBrainz

RELEASE = "212895ca-ee36-439a-a824-d2620cd10461"  # real fixture: 18 tracks on one medium
FIRST_RECORDING = "d717ade4-9e3b-4441-8da1-4a7deb07b12a"


@pytest.fixture
def musicbrainz() -> Iterator[FakeMusicBrainz]:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real MusicBrainz fixtures not found at {SHARED_FIXTURES}")
    fake = FakeMusicBrainz()
    fake.start()
    yield fake
    fake.stop()


def slskdn(app_dir: Path, *args: str, mb_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLSKDN_")}
    env.update({"SLSKDN_APP_DIR": str(app_dir), "NO_COLOR": "1", "COLUMNS": "200"})
    if mb_url:
        env["SLSKDN_MUSICBRAINZ_BASE_URL"] = mb_url
    return subprocess.run(
        [sys.executable, "-m", "slskdn.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_fetch_missing_checks_a_release_against_real_musicbrainz_data(
    tmp_path: Path, musicbrainz: FakeMusicBrainz
) -> None:
    tags = TrackTagsSpec(
        "m.o.v.e", "We♥TechPara", "[intro]", 1, 18, FIRST_RECORDING, RELEASE,
        "00000000-0000-4000-8000-000000000001", "", "00000000-0000-4000-8000-000000000002",
    )  # fmt: skip
    write_track(tmp_path / "lib" / "01.flac", "flac", tags=tags)
    app = tmp_path / "app"

    offline = json.loads(slskdn(app, "doctor", "scan", str(tmp_path / "lib"), "--json").stdout)
    assert (offline["releases_without_tracklist"], offline["missing_tracks"]) == (1, 0)
    assert musicbrainz.count() == 0  # offline means offline

    online = slskdn(app, "doctor", "scan", str(tmp_path / "lib"), "--fetch-missing", "--json",
                    mb_url=musicbrainz.base_url)  # fmt: skip
    assert online.returncode == 0, online.stderr
    summary = json.loads(online.stdout)
    assert (summary["missing_tracks"], summary["incomplete_releases"]) == (17, 1)
    # The 1 s file is far from the real 33 s intro.
    assert summary["wrong_durations"] == 1

    listed = json.loads(slskdn(app, "doctor", "issues", "--type", "missing_track_in_release",
                               "--sort", "album", "--json").stdout)  # fmt: skip
    assert [i["track"] for i in listed] == list(range(2, 19))
    assert listed[0]["title"] == 'WILD BOY <MISSION"B"RE-EDIT>'

    short = listed[0]["issue_id"][:8]
    shown = json.loads(slskdn(app, "doctor", "show", short, "--json").stdout)
    assert [e["type"] for e in shown["history"]] == ["HealthIssue.Raised"]
    assert slskdn(app, "doctor", "ignore", short).returncode == 0
    assert slskdn(app, "doctor", "ignore", short).returncode == 2  # already ignored
    assert slskdn(app, "doctor", "resolve", short, "--reason", "bought it").returncode == 0
    after = json.loads(slskdn(app, "doctor", "show", short, "--json").stdout)
    assert (after["status"], after["note"]) == ("resolved", "bought it")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["doctor", "scan", "/nonexistent/music"], "no such file or folder"),
        (["doctor", "issues", "--type", "bad"], "unknown issue type"),
        (["doctor", "show", "zzzzzzzz"], "no issue with id"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = slskdn(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr

"""`slskdn mb ...` through typer's CliRunner: real settings from the environment, real
database in a temporary app directory, real HTTP to the loopback server; only the
limiter's clock is fake."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from slskdn.cli import common
from slskdn.cli import mb as mb_cli
from slskdn.logs import configure_logging
from slskdn.musicbrainz.client import RateLimiter, RetryPolicy
from tests.musicbrainz import synthetic as S
from tests.musicbrainz.conftest import FakeClock
from tests.musicbrainz.server import FakeMusicBrainz

URK = "fe29e7f0-eb46-44ba-9348-694166f47885"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
TRACK_KEYS = {"position", "number", "title", "length_ms", "recording_id", "track_id"}


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """common.state caches the settings in a module global; every invocation re-reads."""
    common.state._settings = None
    yield
    common.state._settings = None


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mb: FakeMusicBrainz, clock: FakeClock
) -> Any:
    # As the root CLI does: logs to stderr. Unconfigured structlog prints to stdout,
    # which would break --json.
    configure_logging("info", "json")
    monkeypatch.delenv("SLSKDN_CONFIG", raising=False)
    monkeypatch.setenv("SLSKDN_APP_DIR", str(tmp_path / "app"))
    monkeypatch.setenv("SLSKDN_MUSICBRAINZ_BASE_URL", fake_mb.base_url)
    monkeypatch.setenv("SLSKDN_MUSICBRAINZ_CONTACT", "cli-tests@example.org")
    limiter = RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep)
    monkeypatch.setattr(
        mb_cli,
        "build_service",
        functools.partial(
            mb_cli.build_service, limiter=limiter, sleep=clock.sleep, retry=RetryPolicy(attempts=2)
        ),
    )
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        common.state._settings = None
        return runner.invoke(mb_cli.app, list(args))

    return invoke


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_release_json_has_media_and_tracks(cli: Any, shared_fixtures: Path) -> None:
    data = as_json(cli("release", URK, "--json"))

    assert (data["id"], data["title"], data["date"], data["country"]) == (
        URK,
        "Urk",
        "2007-02-02",
        "DE",
    )
    assert [m["position"] for m in data["media"]] == [1, 2, 3]
    assert data["track_count"] == 48 and data["medium_count"] == 3
    first = data["media"][0]["tracks"][0]
    assert set(first) == TRACK_KEYS
    assert first == {
        "position": 1,
        "number": "1",
        "title": "The Train",
        "length_ms": 184000,
        "recording_id": "f0718b28-1e48-4b8e-8e5e-0596cc8ff515",
        "track_id": "58a1aa51-1b34-3182-9d71-91dc0e6db368",
    }
    assert data["stale"] is False and data["from_cache"] is False


def test_release_json_labels_and_no_media(cli: Any) -> None:
    ep = as_json(cli("release", S.R_EP, "--json"))
    assert ep["labels"] == [
        {"id": S.LABEL, "name": "Synthetic Records", "catalog_number": "SYN-EP1"}
    ]
    assert ep["release_group_id"] == S.RG_EP
    empty = as_json(cli("release", S.R_NOMEDIA, "--json"))
    assert empty["media"] == [] and empty["track_count"] == 0


def test_release_table(cli: Any) -> None:
    result = cli("release", S.R_EP)
    assert result.exit_code == 0, result.output
    assert "Early Days" in result.stdout and "Evening" in result.stdout
    assert "4:00" in result.stdout  # 240000 ms
    nomedia = cli("release", S.R_NOMEDIA)
    assert "no media" in nomedia.stdout


def test_malformed_mbid_exits_2_without_a_request(cli: Any, fake_mb: FakeMusicBrainz) -> None:
    for command in ("release", "artist-graph", "discography", "label"):
        result = cli(command, "not-a-uuid")
        assert result.exit_code == 2, (command, result.output)
        assert "not a MusicBrainz" in result.stderr
    assert fake_mb.count() == 0


def test_unknown_id_exits_1(cli: Any) -> None:
    result = cli("release", UNKNOWN)
    assert result.exit_code == 1
    assert f"no release with id {UNKNOWN}" in result.stderr


def test_unreachable_without_cache_exits_1(
    cli: Any, monkeypatch: pytest.MonkeyPatch, closed_port_url: str
) -> None:
    monkeypatch.setenv("SLSKDN_MUSICBRAINZ_BASE_URL", closed_port_url)
    result = cli("artist-graph", S.ARTIST)
    assert result.exit_code == 1
    assert "cannot reach MusicBrainz" in result.stderr
    assert "nothing is cached" in result.stderr


def test_unreachable_with_cache_serves_it_marked_stale(
    cli: Any, monkeypatch: pytest.MonkeyPatch, closed_port_url: str
) -> None:
    first = as_json(cli("label", S.LABEL, "--json"))
    monkeypatch.setenv("SLSKDN_MUSICBRAINZ_BASE_URL", closed_port_url)

    stale = as_json(cli("label", S.LABEL, "--json", "--refresh"))

    assert stale["stale"] is True and stale["from_cache"] is True
    assert stale["releases"] == first["releases"]
    table = cli("label", S.LABEL, "--refresh")
    assert table.exit_code == 0 and "could not be reached" in table.stderr


def test_second_run_uses_the_cache_and_refresh_asks_again(
    cli: Any, fake_mb: FakeMusicBrainz
) -> None:
    as_json(cli("artist-graph", S.ARTIST, "--json"))
    asked = fake_mb.count()
    cached = as_json(cli("artist-graph", S.ARTIST, "--json"))
    assert fake_mb.count() == asked and cached["from_cache"] is True
    as_json(cli("artist-graph", S.ARTIST, "--json", "--refresh"))
    assert fake_mb.count() == 2 * asked


def test_artist_graph_summary(cli: Any) -> None:
    data = as_json(cli("artist-graph", S.ARTIST, "--json"))
    assert (data["release_group_count"], data["release_count"]) == (11, 16)
    assert data["release_groups_by_type"]["Album"] == 4
    assert data["releases_by_type"]["Album"] == 9
    assert data["releases_by_type"]["Album + Live"] == 2
    by_id = {g["id"]: g for g in data["release_groups"]}
    assert by_id[S.RG_DEBUT]["release_count"] == 4
    table = cli("artist-graph", S.ARTIST)
    assert "11 release groups, 16 releases" in table.stdout


def test_discography_profiles(cli: Any) -> None:
    core = as_json(cli("discography", S.ARTIST, "--json"))
    assert core["profile"] == "core" and core["count"] == 4
    assert core["entries"][0] == {
        "release_group_id": S.RG_DEBUT,
        "release_id": S.R_DEBUT_XW,
        "title": "First Light",
        "year": 1999,
        "type": "Album",
        "primary_type": "Album",
        "secondary_types": [],
    }
    extended = as_json(cli("discography", S.ARTIST, "--profile", "extended", "--json"))
    assert extended["count"] == 7
    everything = as_json(cli("discography", S.ARTIST, "--profile", "all", "--json"))
    assert everything["count"] == 11
    live = as_json(cli("discography", S.ARTIST, "--include-live", "--json"))
    assert live["count"] == 6
    table = cli("discography", S.ARTIST, "--profile", "all")
    assert "Album + Soundtrack" in table.stdout and "Film Score" in table.stdout


def test_unknown_profile_is_a_usage_error(cli: Any) -> None:
    assert cli("discography", S.ARTIST, "--profile", "best").exit_code == 2


def test_label_releases_oldest_first_with_catalogue_numbers(cli: Any) -> None:
    data = as_json(cli("label", S.LABEL, "--json"))
    assert data["label_id"] == S.LABEL and data["count"] == 4
    assert [r["id"] for r in data["releases"]] == [S.R_EP, S.R_DEBUT_US, S.R_OTHER, S.R_SECOND_DE]
    assert data["releases"][0]["catalog_numbers"] == ["SYN-EP1"]
    assert data["releases"][0]["formats"] == ['12" Vinyl']


def test_unusable_base_url_exits_2(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLSKDN_MUSICBRAINZ_BASE_URL", "ftp://musicbrainz.org")
    result = cli("release", S.R_EP)
    assert result.exit_code == 2 and "base_url" in result.stderr

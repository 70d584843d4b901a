"""Collection Doctor end to end: real files, a real MusicBrainz cache, issue lifecycles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from slskdn.config import Settings
from slskdn.doctor.scan import doctor_scan
from slskdn.domain.health_issue import HealthIssue, issue_id
from slskdn.engine import Engine
from slskdn.musicbrainz.cache import MusicBrainzCache
from slskdn.musicbrainz.model import Medium, Track, Tracklist
from slskdn.projections import health as view
from slskdn.testing.library import TrackTagsSpec, write_track


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


class Release:
    """A synthetic release: MusicBrainz ids for its tracks, and how to tag a file as one."""

    def __init__(self, title: str, n_tracks: int, group: str | None = None) -> None:
        self.title, self.id, self.group = title, str(uuid.uuid4()), group or str(uuid.uuid4())
        self.recordings, self.track_ids = ids(n_tracks), ids(n_tracks)
        self.lengths = [1000] * n_tracks

    def tags(self, n: int, recording: str | None = None) -> TrackTagsSpec:
        return TrackTagsSpec(
            artist="Loopback Ensemble", album=self.title, title=f"{self.title} {n}",
            track_number=n, track_total=len(self.recordings),
            recording_id=recording or self.recordings[n - 1], release_id=self.id,
            release_group_id=self.group,
            release_track_id="" if recording else self.track_ids[n - 1],
            artist_id="5b11f4ce-a62d-471e-81fc-a69a8278c7da",
        )  # fmt: skip

    def tracklist(self) -> Tracklist:
        tracks = tuple(
            Track(n + 1, str(n + 1), f"{self.title} {n + 1}", self.lengths[n], rec, tid)
            for n, (rec, tid) in enumerate(zip(self.recordings, self.track_ids, strict=True))
        )
        return Tracklist(
            self.id,
            self.title,
            "2001",
            "XW",
            "Official",
            self.group,
            (),
            (Medium(1, "CD", None, tracks),),
        )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    with Engine(settings) as running:
        yield running


@pytest.fixture
def library(tmp_path: Path, engine: Engine) -> dict[str, object]:
    root = tmp_path / "Music"
    a, b, c = Release("Alpha", 4), Release("Beta", 2), Release("Gamma", 2)
    a.lengths[2] = 240_000  # MusicBrainz says 4:00; the file lasts 1 s
    write_track(root / "Alpha" / "01.flac", "flac", seed=1, tags=a.tags(1))
    write_track(root / "Alpha" / "02.flac", "mp3_128_to_flac", seed=2, tags=a.tags(2))
    write_track(root / "Alpha" / "03.flac", "flac", seed=3, tags=a.tags(3))
    # Tagged as Alpha, but the recording is on Gamma (cached, none of its files here).
    write_track(root / "Alpha" / "bonus.flac", "flac", seed=4, tags=a.tags(5, c.recordings[0]))
    write_track(root / "Beta" / "01.flac", "flac", seed=5, tags=b.tags(1))
    write_track(root / "Beta" / "01.mp3", "mp3_320", seed=5, tags=b.tags(1))
    write_track(root / "Beta" / "02.flac", "flac", seed=6, tags=b.tags(2))
    write_track(root / "loose.flac", "flac", seed=7)
    (root / "Beta" / "broken.flac").write_bytes(b"fLaC\x00\x00\x00\x22" + b"\xff" * 64)
    cache = MusicBrainzCache(engine.projections["library"].engine)
    now = datetime.now(UTC)
    cache.store_tracklist(a.tracklist(), now)
    cache.store_tracklist(b.tracklist(), now)
    cache.store_tracklist(c.tracklist(), now)
    return {"root": root, "a": a, "b": b, "c": c}


def open_issues(engine: Engine, **filters: str) -> dict[tuple[str, str], dict]:
    engine.catch_up()
    with engine.projections["health"].engine.connect() as conn:
        rows = view.issues(conn, **filters)
    return {
        (
            r["kind"],
            Path(r["path"]).name if r["kind"] != "missing_track_in_release" else str(r["track"]),
        ): r
        for r in rows
    }


def test_a_scan_raises_each_kind_of_problem_once(engine: Engine, library: dict) -> None:
    summary = doctor_scan(engine, [library["root"]])
    found = open_issues(engine)
    assert set(found) == {
        ("suspected_transcode", "02.flac"),
        ("wrong_duration", "03.flac"),
        ("track_not_in_tagged_release", "bonus.flac"),
        ("missing_track_in_release", "4"),
        ("non_canonical_variant", "01.mp3"),
        ("unreadable", "broken.flac"),
    }
    bonus = found[("track_not_in_tagged_release", "bonus.flac")]
    assert bonus["details"]["best_guess_release_id"] == library["c"].id
    assert "probably Gamma" in bonus["reason"]
    assert found[("non_canonical_variant", "01.mp3")]["details"]["better_path"].endswith(
        "Beta/01.flac"
    )
    assert found[("wrong_duration", "03.flac")]["details"] == {
        "expected_ms": 240000,
        "actual_ms": 1000,
    }
    missing = found[("missing_track_in_release", "4")]
    assert (missing["release_id"], missing["disc"], missing["severity"]) == (
        library["a"].id,
        1,
        "medium",
    )
    assert (summary.files, summary.files_without_mbids, summary.incomplete_releases) == (9, 1, 1)
    assert (summary.issues_raised, summary.open_issues, summary.releases_checked) == (6, 6, 2)


def test_issues_keep_their_identity_and_follow_their_lifecycle(
    engine: Engine, library: dict
) -> None:
    root: Path = library["root"]  # type: ignore[assignment]
    doctor_scan(engine, [root])
    again = doctor_scan(engine, [root])
    assert (again.issues_raised, again.issues_closed, again.open_issues) == (0, 0, 6)

    transcode = issue_id(f"suspected_transcode:{root / 'Alpha' / '02.flac'}")
    duration = issue_id(f"wrong_duration:{root / 'Alpha' / '03.flac'}")
    engine.command(transcode, HealthIssue.ignore, reason="I like it").result(timeout=10)
    engine.command(duration, HealthIssue.resolve, reason="retagged").result(timeout=10)
    # The cause of two issues goes away: the duplicate MP3, and the missing track arrives.
    (root / "Beta" / "01.mp3").unlink()
    a = library["a"]
    write_track(root / "Alpha" / "04.flac", "flac", seed=8, tags=a.tags(4))  # type: ignore[attr-defined]

    third = doctor_scan(engine, [root])
    assert third.issues_closed == 2
    found = open_issues(engine)
    assert ("suspected_transcode", "02.flac") not in found  # ignored: out of the default view
    assert found[("wrong_duration", "03.flac")]["times_raised"] == 2  # resolved, found again
    assert ("non_canonical_variant", "01.mp3") not in found
    assert ("missing_track_in_release", "4") not in found
    closed = open_issues(engine, status="closed")
    assert {k[0] for k in closed} == {"non_canonical_variant", "missing_track_in_release"}
    ignored = open_issues(engine, status="ignored")
    assert ignored[("suspected_transcode", "02.flac")]["note"] == "I like it"
    history = engine.store.events_of(duration)  # type: ignore[union-attr]
    assert [type(e).__name__ for e in history] == ["Raised", "Resolved", "Reraised"]


def test_filters_by_type_artist_and_release(engine: Engine, library: dict) -> None:
    doctor_scan(engine, [library["root"]])
    assert set(open_issues(engine, kind="unreadable")) == {("unreadable", "broken.flac")}
    assert len(open_issues(engine, release=library["a"].id)) == 4
    assert len(open_issues(engine, artist="loopback")) == 5  # the unreadable file has no artist


def test_an_offline_scan_without_tracklists_says_what_it_could_not_check(
    engine: Engine, tmp_path: Path
) -> None:
    a = Release("Gamma", 3)
    write_track(tmp_path / "M" / "01.flac", "flac", tags=a.tags(1))
    summary = doctor_scan(engine, [tmp_path / "M"])
    assert (summary.releases_without_tracklist, summary.missing_tracks) == (1, 0)


def test_the_health_projection_rebuilds_to_the_same_rows(engine: Engine, library: dict) -> None:
    doctor_scan(engine, [library["root"]])
    (library["root"] / "Beta" / "broken.flac").unlink()  # type: ignore[operator]
    doctor_scan(engine, [library["root"]])
    runner = engine.projections["health"]
    with runner.engine.connect() as conn:
        before = conn.execute(sa.select(view.health_issues).order_by("issue_id")).all()
    runner.rebuild()
    with runner.engine.connect() as conn:
        assert conn.execute(sa.select(view.health_issues).order_by("issue_id")).all() == before

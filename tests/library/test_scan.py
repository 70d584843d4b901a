"""Library scans through the engine: events, skipping unchanged files, removals, verdicts."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from slskdn.config import Settings
from slskdn.domain.library_file import LibraryFile, file_id
from slskdn.engine import Engine
from slskdn.library.scan import ScanError, scan
from slskdn.projections import library as view
from slskdn.testing.library import TrackTagsSpec, write_track


def spec(track: int, recording_id: str | None = None, release_id: str = "") -> TrackTagsSpec:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    return TrackTagsSpec(
        artist="Loopback Ensemble", album="Test Pressings", title=f"Song {track}",
        track_number=track, track_total=3, recording_id=recording_id or ids[0],
        release_id=release_id or ids[1], release_group_id=ids[2], release_track_id=ids[3],
        artist_id=ids[4],
    )  # fmt: skip


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "Music"
    release = str(uuid.uuid4())
    write_track(root / "a" / "01.flac", "flac", seed=1, tags=spec(1, release_id=release))
    write_track(root / "a" / "02.flac", "mp3_128_to_flac", seed=2, tags=spec(2, release_id=release))
    write_track(root / "a" / "03.mp3", "mp3_320", seed=3, tags=spec(3, release_id=release))
    write_track(root / "untagged.flac", "flac", seed=4)
    (root / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 100)
    (root / "notes.mp3").write_text("not audio at all")
    return root


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    with Engine(settings) as running:
        yield running


def fingerprint_of_tree(root: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def rows(engine: Engine) -> dict[str, dict]:
    with engine.projections["library"].engine.connect() as conn:
        return {Path(r["path"]).name: r for r in view.file_rows(conn)}


def test_a_first_scan_records_every_file_and_touches_none(engine: Engine, library: Path) -> None:
    before = fingerprint_of_tree(library)
    summary = scan(engine, [library])
    assert (summary.files, summary.analysed, summary.skipped_unchanged) == (6, 6, 0)
    assert (summary.unreadable, summary.suspected_transcodes, summary.without_mbids) == (2, 1, 1)
    assert fingerprint_of_tree(library) == before
    files = rows(engine)
    assert files["02.flac"]["transcode_suspect"] is True
    assert "MP3" in files["02.flac"]["transcode_reason"]
    assert files["01.flac"]["codec_profile"] == "flac 16/44.1"
    assert files["03.mp3"]["codec_profile"] == "mp3 320k"
    assert "not audio" in files["notes.mp3"]["error"]
    assert files["broken.flac"]["status"] == "unreadable"
    events = engine.store.events_of(file_id(str(library / "a" / "01.flac")))  # type: ignore[union-attr]
    assert [type(e).__name__ for e in events] == ["Discovered", "Analysed"]
    assert events[1].variant["sample_rate"] == 44100


def test_a_rescan_skips_unchanged_files_and_sees_changes_and_removals(
    engine: Engine, library: Path
) -> None:
    scan(engine, [library])
    again = scan(engine, [library])
    assert (again.analysed, again.skipped_unchanged, again.removed) == (0, 6, 0)
    assert (again.unreadable, again.suspected_transcodes) == (2, 1)

    write_track(library / "a" / "01.flac", "mp3_128_to_flac", seed=1, tags=spec(1))
    os.utime(library / "a" / "01.flac", ns=(1, 1))
    (library / "untagged.flac").unlink()
    third = scan(engine, [library])
    assert (third.analysed, third.skipped_unchanged, third.removed) == (1, 4, 1)
    assert third.suspected_transcodes == 2
    assert rows(engine).get("untagged.flac") is None
    removed = engine.store.events_of(file_id(str(library / "untagged.flac")))  # type: ignore[union-attr]
    assert type(removed[-1]).__name__ == "Removed"


def test_recompute_analyses_unchanged_files_again(engine: Engine, library: Path) -> None:
    scan(engine, [library])
    summary = scan(engine, [library], recompute=True)
    assert summary.analysed == 6
    events = engine.store.events_of(file_id(str(library / "a" / "03.mp3")))  # type: ignore[union-attr]
    assert [type(e).__name__ for e in events] == ["Discovered", "Analysed", "Analysed"]


def test_a_path_that_does_not_exist_is_refused_by_name(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="nowhere: no such file or folder"):
        scan(engine, [tmp_path / "nowhere"])


def test_the_library_projection_rebuilds_to_the_same_rows(engine: Engine, library: Path) -> None:
    scan(engine, [library])
    (library / "a" / "03.mp3").unlink()
    scan(engine, [library])
    runner = engine.projections["library"]
    with runner.engine.connect() as conn:
        incremental = conn.execute(sa.select(view.library_files).order_by("file_id")).all()
    runner.rebuild()
    with runner.engine.connect() as conn:
        rebuilt = conn.execute(sa.select(view.library_files).order_by("file_id")).all()
    assert rebuilt == incremental


def test_workers_give_the_same_verdicts(settings: Settings, library: Path) -> None:
    with Engine(settings) as engine:
        summary = scan(engine, [library], workers=2)
        assert (summary.analysed, summary.unreadable, summary.suspected_transcodes) == (6, 2, 1)


def test_the_same_recording_in_two_files_is_ranked_lossless_first(
    engine: Engine, tmp_path: Path
) -> None:
    recording, release = str(uuid.uuid4()), str(uuid.uuid4())
    write_track(tmp_path / "m" / "x.mp3", "mp3_320", tags=spec(1, recording, release))
    write_track(tmp_path / "m" / "x.flac", "flac", tags=spec(1, recording, release))
    write_track(
        tmp_path / "m" / "x-transcode.flac", "mp3_128_to_flac", tags=spec(1, recording, release)
    )
    scan(engine, [tmp_path / "m"])
    with engine.projections["library"].engine.connect() as conn:
        ordered = view.canonical_candidates(conn, recording)
        stats = view.recording_stats(conn, recording)
        tracks = view.release_stats(conn, release)
    assert [Path(v.path).name for v in ordered] == ["x.flac", "x.mp3", "x-transcode.flac"]
    assert {s["codec_profile"]: s["variants"] for s in stats} == {"flac 16/44.1": 2, "mp3 320k": 1}
    assert {s["codec_profile"]: s["transcode_share"] for s in stats}["flac 16/44.1"] == 0.5
    assert tracks == [
        {
            "disc": 1, "track": 1, "recording_id": recording, "title": "Song 1", "variants": 3,
            "mean_quality": tracks[0]["mean_quality"], "transcode_share": round(1 / 3, 4),
            "codecs": ["flac", "mp3"], "bitrate_buckets": ["320k", "lossless"],
        }
    ]  # fmt: skip


def test_library_file_refuses_unknown_variant_fields(engine: Engine) -> None:
    from slskdn.domain.errors import DomainError

    fid = file_id("/music/x.flac")
    future = engine.actors.command(  # type: ignore[union-attr]
        fid,
        LibraryFile.record_analysis,
        create=lambda id, at: LibraryFile.discover(id=id, at=at, path="/music/x.flac"),
        size_bytes=1, mtime_ns=1, analyser_version=1, variant={"colour": "blue"},
    )  # fmt: skip
    with pytest.raises(DomainError, match="unknown variant fields: colour"):
        future.result(timeout=10)

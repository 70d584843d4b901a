"""analyse_file's contract: never raises, never writes, says why; the walker is safe."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import soundfile as sf

from slskdn.audio.analysis import analyse_file, analyse_many, iter_audio_files
from slskdn.testing.signals import music

from .conftest import Analysed, snapshot

BAD_FILE_REASONS = {
    "bad_zero.flac": "empty file (0 bytes)",
    "bad_truncated.flac": "truncated",
    "bad_header.flac": "corrupt or unrecognised header",
    "bad_text.mp3": "not audio: the file holds text",
    "bad_dangling.flac": "dangling symlink",
}


def test_no_file_is_modified_by_analysis(corpus: Analysed) -> None:
    assert len(corpus.before) >= 30
    for name, before in corpus.before.items():
        assert snapshot(corpus.files[name].path) == before, name


@pytest.mark.parametrize("name", sorted(BAD_FILE_REASONS))
def test_bad_files_give_an_error_with_a_reason(corpus: Analysed, name: str) -> None:
    result = corpus.results[name]
    assert result.error is not None and BAD_FILE_REASONS[name] in result.error, result.error
    assert result.quality is None and result.spectral is None


def test_every_file_the_corpus_marks_bad_errors_and_the_others_do_not(corpus: Analysed) -> None:
    for name, f in corpus.files.items():
        assert (corpus.results[name].error is not None) == f.expected.error, name


def test_mp3_with_junk_appended_is_analysed_and_the_junk_reported(corpus: Analysed) -> None:
    # The frames before the junk are intact, so the analysis stands; the damage is a problem.
    result = corpus.results["bad_garbage_appended.mp3"]
    assert result.error is None and result.spectral is not None
    assert any(p.startswith("trailing_data: 20000 bytes") for p in result.problems)


def test_m4a_is_probed_and_tagged_but_not_decoded(corpus: Analysed) -> None:
    result = corpus.results["tagged.m4a"]
    assert result.error is None and result.probe is not None and result.tags is not None
    assert result.spectral is None and result.fingerprint is None
    assert any(p.startswith("not_decoded:") for p in result.problems)
    assert result.quality is not None and "not measured" in result.quality.transcode.reason


def test_missing_file_is_an_error() -> None:
    assert analyse_file("/nonexistent/x.flac").error == "file not found"


def _as_unprivileged(fn: Callable[[], object]) -> object:
    """Run `fn` in a forked child that drops to nobody when we are root (root reads
    mode-000 files); fork, not exec, because nobody cannot reach root's Python."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            os.write(write_end, json.dumps(fn()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder anyone can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="slskdn-audio-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in path.rglob("*"):
            p.chmod(0o755)
        shutil.rmtree(path)


def test_unreadable_file_is_an_error(open_dir: Path) -> None:
    path = open_dir / "locked.flac"
    sf.write(path, music(1.0), 44100, format="FLAC")
    path.chmod(0)
    error = _as_unprivileged(lambda: analyse_file(path).error)
    assert error == "permission denied: the file cannot be read"


def test_walker_reports_unreadable_folders(open_dir: Path) -> None:
    (open_dir / "ok").mkdir()
    sf.write(open_dir / "ok" / "a.flac", music(1.0), 44100, format="FLAC")
    locked = open_dir / "locked"
    locked.mkdir()
    (locked / "b.flac").write_bytes(b"")
    locked.chmod(0)
    items = _as_unprivileged(lambda: [[i.path, i.problem] for i in iter_audio_files([open_dir])])
    assert isinstance(items, list)
    assert [str(open_dir / "ok" / "a.flac"), None] in items
    assert [[p, why] for p, why in items if why] == [
        [str(locked), "cannot read folder: Permission denied"]]


def test_walker_survives_symlink_loops_and_yields_each_file_once(tmp_path: Path) -> None:
    music_dir = tmp_path / "music" / "album"
    music_dir.mkdir(parents=True)
    (music_dir / "01.flac").write_bytes(b"x")
    (music_dir / "cover.jpg").write_bytes(b"x")
    (music_dir / "loop").symlink_to(tmp_path / "music")  # album/loop -> music
    (tmp_path / "music" / "again").symlink_to(music_dir)  # a second way in
    (music_dir / "gone.mp3").symlink_to(tmp_path / "missing.mp3")
    items = list(iter_audio_files([tmp_path / "music", tmp_path / "nowhere"]))
    files = [i.path for i in items if i.problem is None]
    assert sorted(Path(p).name for p in files) == ["01.flac", "gone.mp3"]
    assert [i.problem for i in items if i.problem] == ["does not exist"]


def test_analyse_many_in_a_process_pool_matches_one_process(corpus: Analysed) -> None:
    names = ["genuine_0.flac", "mp3_128_to_flac_0.flac", "bad_text.mp3", "tagged.opus"]
    paths = [corpus.files[n].path for n in names]
    pooled = analyse_many(paths, workers=2)
    assert pooled == [corpus.results[n] for n in names]

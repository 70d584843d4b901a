"""Untrusted remote paths always map to a file inside the download directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slskdn.soulseek.paths import (
    MAX_COMPONENT_BYTES,
    UnsafeRemotePath,
    clean_component,
    safe_local_path,
)

# Remote paths built from the pieces attacks are made of, mixed with arbitrary text.
_pieces = st.sampled_from(["..", ".", "", "/", "\\", "C:", "c:\\", "\x00", "\n", "~", "@@abc",
                           "CON", "nul.txt", " ", "...", "a" * 300, "é" * 150, "\ud800"])
_remote = st.lists(st.one_of(_pieces, st.text(max_size=40)), max_size=12).map("".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(remote=_remote, keep_dirs=st.integers(0, 4))
def test_the_result_always_stays_inside_the_directory(tmp_path: Path, remote: str,
                                                      keep_dirs: int) -> None:
    base = tmp_path / "downloads"
    local = safe_local_path(base, remote, keep_dirs=keep_dirs)
    relative = local.relative_to(base)  # raises if outside, lexically
    assert local.resolve().is_relative_to(base.resolve())
    assert 1 <= len(relative.parts) <= keep_dirs + 1
    for part in relative.parts:
        assert part not in ("", ".", "..")
        assert "\x00" not in part and "/" not in part and "\\" not in part
        assert 0 < len(part.encode("utf-8")) <= MAX_COMPONENT_BYTES


@pytest.mark.parametrize(("remote", "expected"), [
    ("@@abcde\\Music\\Artist - Album\\01 - Track.flac", "Artist - Album/01 - Track.flac"),
    ("..\\..\\..\\home\\user\\.bashrc", "user/.bashrc"),
    ("/etc/passwd", "etc/passwd"),
    ("C:\\Windows\\System32\\evil.dll", "System32/evil.dll"),
    ("folder\\..\\..\\x.mp3", "folder/x.mp3"),
    ("a\x00b\\c\nd.flac", "a_b/c_d.flac"),
    ("dir\\CON.txt", "dir/_CON.txt"),
    ("..", "unnamed"),
    ("", "unnamed"),
])
def test_known_hostile_paths(tmp_path: Path, remote: str, expected: str) -> None:
    assert safe_local_path(tmp_path, remote) == tmp_path / expected


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = clean_component("é" * 400 + ".flac")
    assert name.endswith(".flac") and len(name.encode("utf-8")) <= MAX_COMPONENT_BYTES


def test_a_symlink_planted_in_the_download_dir_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "downloads"
    base.mkdir()
    os.symlink(tmp_path / "elsewhere", base / "Album")
    with pytest.raises(UnsafeRemotePath):
        safe_local_path(base, "@@x\\Album\\01.flac")

"""Find audio files under some roots, safely: symlink loops end, unreadable folders are
reported instead of skipped in silence."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTENSIONS = frozenset({
    ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav", ".aif",
    ".aiff", ".ape", ".wv", ".mpc", ".wma", ".alac", ".tta", ".dsf",
})


@dataclass(frozen=True)
class WalkItem:
    """An audio file to analyse (`problem` is None) or a path that could not be visited."""

    path: str
    problem: str | None = None


def iter_audio_files(paths: Iterable[str | Path]) -> Iterator[WalkItem]:
    """Yield audio files under `paths` (files or folders) in sorted order, each once.

    Symlinks are followed (libraries are often assembled from links) but every folder is
    entered once, by (device, inode), so link loops end. Dangling links to audio files are
    yielded as files: `analyse_file` reports them. Unreadable folders and roots that do
    not exist come back as `WalkItem(path, problem)`.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for root in paths:
        root = Path(root)
        if root.is_dir():
            yield from _walk(root, seen_dirs, seen_files)
        elif root.is_file() or root.is_symlink():
            yield WalkItem(str(root))
        else:
            yield WalkItem(str(root), "does not exist")


def _walk(folder: Path, seen_dirs: set[tuple[int, int]],
          seen_files: set[tuple[int, int]]) -> Iterator[WalkItem]:
    try:
        st = folder.stat()
    except OSError as exc:
        yield WalkItem(str(folder), f"cannot stat folder: {exc.strerror or exc}")
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        return  # a symlink loop, or a second link to a folder already walked
    seen_dirs.add(key)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield WalkItem(str(folder), f"cannot read folder: {exc.strerror or exc}")
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(path, seen_dirs, seen_files)
        elif path.suffix.lower() in AUDIO_EXTENSIONS:
            try:
                fst = entry.stat(follow_symlinks=True)
            except OSError:  # dangling link: let the analyser say why
                yield WalkItem(str(path))
                continue
            fkey = (fst.st_dev, fst.st_ino)
            if fkey not in seen_files:  # two links to one file: analyse it once
                seen_files.add(fkey)
                yield WalkItem(str(path))

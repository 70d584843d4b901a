"""One generated corpus per test session (real codecs, ~3 s to build), analysed once."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from slskdn.audio.analysis import FileAnalysis, analyse_file
from slskdn.testing.corpus import CorpusFile, build_corpus

CLIP_SECONDS = 6.0  # long enough for a stable long-term spectrum (Vorbis q5's soft edge)


@dataclass(frozen=True)
class Analysed:
    files: dict[str, CorpusFile]  # by file name
    results: dict[str, FileAnalysis]
    before: dict[str, tuple[int, str]]  # (mtime_ns, sha256) taken before any analysis


def snapshot(path: Path) -> tuple[int, str]:
    return os.stat(path).st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Analysed:
    root = tmp_path_factory.mktemp("corpus")
    files = {f.path.name: f for f in build_corpus(root, seconds=CLIP_SECONDS)}
    before = {name: snapshot(f.path) for name, f in files.items() if f.path.exists()}
    results = {name: analyse_file(f.path) for name, f in files.items()}
    return Analysed(files, results, before)

"""Remote paths are untrusted: map one to a local file name under a download directory.

A peer chooses the paths it shares, so ``..\\..\\.bashrc``, ``/etc/passwd``, ``C:\\x``, names
with NUL or control characters, or 10,000-character names all arrive sooner or later. The
mapping keeps the file name and its last ``keep_dirs`` folders (as slskd does), cleans every
component and checks the result is inside the download directory, symlinks resolved.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MAX_COMPONENT_BYTES = 200  # under ext4's 255, leaving room for ".part" and " (2)" suffixes
_SEPARATORS = re.compile(r"[\\/]+")
_DRIVE = re.compile(r"^[A-Za-z]:$")
# Control characters, Windows-reserved punctuation and lone surrogates (not encodable).
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\ud800-\udfff]')
_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)])


class UnsafeRemotePath(ValueError):
    """The remote path would land outside the download directory (e.g. through a symlink)."""


def clean_component(name: str) -> str:
    """One path component made safe: '' when nothing usable is left."""
    name = _UNSAFE_CHARS.sub("_", name).strip().rstrip(". ")
    if name in ("", ".", ".."):
        return ""
    if name.split(".")[0].upper() in _RESERVED_NAMES:
        name = "_" + name
    return _truncate(name, MAX_COMPONENT_BYTES)


def _truncate(name: str, limit: int) -> str:
    """Cut to ``limit`` UTF-8 bytes on a character boundary, keeping a short extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(". ")
    return (cut or "_") + suffix


def remote_components(remote_path: str) -> list[str]:
    """The usable, cleaned components of a remote path (drive letters dropped)."""
    parts = [p for p in _SEPARATORS.split(remote_path) if p]
    if parts and _DRIVE.match(parts[0]):
        parts = parts[1:]
    return [c for c in (clean_component(p) for p in parts) if c]


def safe_local_path(download_dir: Path, remote_path: str, *, keep_dirs: int = 1) -> Path:
    """The local path for ``remote_path``: ``download_dir/<last keep_dirs folders>/<file>``.

    Never outside ``download_dir``: ``..``, absolute paths, drive letters, NUL and control
    characters are removed, each component is at most ``MAX_COMPONENT_BYTES`` bytes, and the
    resolved result must stay inside the resolved directory (a symlink planted in the download
    directory raises ``UnsafeRemotePath``).
    """
    if keep_dirs < 0:
        raise ValueError("keep_dirs must be >= 0")
    parts = remote_components(remote_path) or ["unnamed"]
    kept = parts[-(keep_dirs + 1):]
    base = Path(os.path.abspath(download_dir))
    candidate = base.joinpath(*kept)
    resolved_base, resolved = base.resolve(), candidate.resolve()
    if resolved == resolved_base or not resolved.is_relative_to(resolved_base):
        raise UnsafeRemotePath(f"remote path {remote_path!r} resolves outside {base}")
    return candidate

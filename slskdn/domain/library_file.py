"""The LibraryFile aggregate: what slskdn has observed about one file of the local library.

Its id is derived from the file's absolute path, so a rescan finds the same aggregate.
Observations only: each analysis is an ``Analysed`` event carrying the variant's facts
(codec, tags, spectrum verdicts, fingerprint) as the analyser saw them at that time.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from slskdn.domain.errors import DomainError

FILE_NAMESPACE = uuid.UUID("2b0f6d8e-3c1a-4f57-9e0d-7a4c1b2e9f31")

# The facts an Analysed event carries; keep in step with docs/events.md.
VARIANT_FIELDS = (
    "codec", "container", "lossless", "bitrate_bps", "sample_rate", "bit_depth", "channels",
    "duration_ms", "encoder", "recording_id", "release_id", "release_group_id", "artist_id",
    "release_track_id", "label", "artist", "album", "title", "track_number", "track_total",
    "disc_number", "disc_total", "cutoff_hz", "cutoff_kind", "upsampled_from_hz",
    "effective_bit_depth", "clipping_ratio", "dynamic_range_db", "transcode_suspect",
    "transcode_reason", "quality_score", "fingerprint", "fingerprint_duration_s", "problems",
)  # fmt: skip


def file_id(path: str) -> uuid.UUID:
    """The aggregate id of the file at this absolute path."""
    return uuid.uuid5(FILE_NAMESPACE, path)


class LibraryFile(Aggregate):
    """One file on disk, as analysed."""

    class Discovered(Aggregate.Created):
        path: str

    class Analysed(Aggregate.Event):
        size_bytes: int
        mtime_ns: int
        analyser_version: int
        variant: dict[str, Any]

        def apply(self, file: LibraryFile) -> None:
            file.status = "ok"
            file.size_bytes, file.mtime_ns = self.size_bytes, self.mtime_ns
            file.analyser_version = self.analyser_version
            file.variant = dict(self.variant)
            file.error = ""

    class Unreadable(Aggregate.Event):
        size_bytes: int | None
        mtime_ns: int | None
        analyser_version: int
        reason: str

        def apply(self, file: LibraryFile) -> None:
            file.status = "unreadable"
            file.size_bytes, file.mtime_ns = self.size_bytes, self.mtime_ns
            file.analyser_version = self.analyser_version
            file.variant = {}
            file.error = self.reason

    class Removed(Aggregate.Event):
        def apply(self, file: LibraryFile) -> None:
            file.status = "removed"

    def __init__(self, path: str) -> None:
        self.path = path
        self.status = "new"
        self.size_bytes: int | None = None
        self.mtime_ns: int | None = None
        self.analyser_version = 0
        self.variant: dict[str, Any] = {}
        self.error = ""

    @classmethod
    def discover(cls, *, id: uuid.UUID, at: datetime, path: str) -> LibraryFile:
        if not path.startswith("/"):
            raise DomainError(f"library paths are absolute: {path!r}")
        return cls._create(cls.Discovered, id=id, path=path, timestamp=at)

    def record_analysis(
        self,
        at: datetime,
        size_bytes: int,
        mtime_ns: int,
        analyser_version: int,
        variant: dict[str, Any],
    ) -> None:
        unknown = set(variant) - set(VARIANT_FIELDS)
        if unknown:
            raise DomainError(f"unknown variant fields: {', '.join(sorted(unknown))}")
        self.trigger_event(
            self.Analysed,
            size_bytes=size_bytes,
            mtime_ns=mtime_ns,
            analyser_version=analyser_version,
            variant={k: variant.get(k) for k in VARIANT_FIELDS},
            timestamp=at,
        )

    def record_unreadable(
        self,
        at: datetime,
        reason: str,
        analyser_version: int,
        size_bytes: int | None = None,
        mtime_ns: int | None = None,
    ) -> None:
        if self.status == "unreadable" and self.error == reason and self.mtime_ns == mtime_ns:
            return  # the same failure seen again is not news
        self.trigger_event(
            self.Unreadable,
            size_bytes=size_bytes,
            mtime_ns=mtime_ns,
            analyser_version=analyser_version,
            reason=reason,
            timestamp=at,
        )

    def mark_removed(self, at: datetime) -> None:
        if self.status != "removed":
            self.trigger_event(self.Removed, timestamp=at)


def needs_analysis(
    known: tuple[int | None, int | None, int, str] | None,
    size_bytes: int,
    mtime_ns: int,
    analyser_version: int,
) -> bool:
    """Whether a file must be (re)analysed, from its last known (size, mtime, version, status).

    Unchanged size and mtime with the current analyser mean the last verdict still holds,
    unreadable ones included: a file that failed and did not change fails again.
    """
    if known is None:
        return True
    known_size, known_mtime, known_version, status = known
    return (
        status == "removed"
        or known_size != size_bytes
        or known_mtime != mtime_ns
        or known_version != analyser_version
    )

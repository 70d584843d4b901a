"""Plain, frozen data read from MusicBrainz. Nothing from musicbrainzngs appears here.

Dates stay the strings MusicBrainz gives ("1978", "2010-05", "2010-05-10") because a
partial date is information, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class LabelCredit:
    """One label line of a release: (label id, name, catalogue number); any may be missing."""

    label_id: str | None
    name: str | None
    catalog_number: str | None


@dataclass(frozen=True)
class ReleaseGroup:
    id: str
    title: str
    primary_type: str | None
    secondary_types: tuple[str, ...]
    first_release_date: str | None


@dataclass(frozen=True)
class MediumSummary:
    """A medium as browse results describe it (``inc=media``): no tracks, only their count."""

    position: int | None
    format: str | None
    track_count: int


@dataclass(frozen=True)
class Release:
    """A release as browse results describe it: enough to choose one edition of a group."""

    id: str
    title: str
    date: str | None
    country: str | None
    status: str | None
    release_group_id: str | None
    labels: tuple[LabelCredit, ...]
    media: tuple[MediumSummary, ...]

    @property
    def medium_count(self) -> int:
        return len(self.media)

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(m.format or "?" for m in self.media)

    @property
    def track_count(self) -> int:
        return sum(m.track_count for m in self.media)

    @property
    def media_complete(self) -> bool:
        """At least one medium, and every medium has a tracklist in MusicBrainz."""
        return bool(self.media) and all(m.track_count > 0 for m in self.media)


@dataclass(frozen=True)
class Track:
    """One track of a medium. ``track_id`` is None in old responses that lack it."""

    position: int
    number: str
    title: str
    length_ms: int | None
    recording_id: str
    track_id: str | None


@dataclass(frozen=True)
class Medium:
    position: int
    format: str | None
    title: str | None
    tracks: tuple[Track, ...]


@dataclass(frozen=True)
class Tracklist:
    """A release looked up by id with its media and tracks."""

    release_id: str
    title: str
    date: str | None
    country: str | None
    status: str | None
    release_group_id: str | None
    labels: tuple[LabelCredit, ...]
    media: tuple[Medium, ...]

    @property
    def track_count(self) -> int:
        return sum(len(m.tracks) for m in self.media)


@dataclass(frozen=True)
class LabelRelease:
    """A release of a label, with the catalogue numbers it carries on that label."""

    label_id: str
    release: Release
    catalog_numbers: tuple[str, ...]

    @classmethod
    def of(cls, label_id: str, release: Release) -> LabelRelease:
        numbers = tuple(
            credit.catalog_number
            for credit in release.labels
            if credit.label_id == label_id and credit.catalog_number
        )
        return cls(label_id, release, numbers)


@dataclass(frozen=True)
class ArtistGraph:
    """An artist's release groups and releases, as one consistent fetch."""

    artist_id: str
    release_groups: tuple[ReleaseGroup, ...]
    releases: tuple[Release, ...]

    def releases_of(self, release_group_id: str) -> tuple[Release, ...]:
        return tuple(r for r in self.releases if r.release_group_id == release_group_id)


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """A value with where it came from.

    ``stale`` is True when MusicBrainz could not be reached and the cached copy was
    served instead of a refresh; ``from_cache`` is True whenever no request was answered.
    """

    value: T
    fetched_at: datetime
    from_cache: bool
    stale: bool = False

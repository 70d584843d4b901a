"""The MusicBrainz cache: ``mb_*`` tables in the project database (SQLite or PostgreSQL).

One fetch is one transaction: the old rows of that artist / release / label are deleted
and the new ones written together with the fetch marker (``mb_*_fetches``), so a reader
sees the whole previous fetch or the whole new one, never a mix. Nothing is written
until every page has arrived, so a fetch that fails half-way leaves the cache as it was.

The cache does not read the clock: ``fetched_at`` is passed in and returned, and the TTL
decision belongs to the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from slskdn.musicbrainz.model import (
    ArtistGraph,
    LabelCredit,
    Medium,
    MediumSummary,
    Release,
    ReleaseGroup,
    Track,
    Tracklist,
)

metadata = sa.MetaData()

MBID = sa.String(36)


def _release_columns() -> list[sa.Column[Any]]:
    """Columns of a browsed release, shared by the artist and label tables."""
    return [
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("date", sa.Text),
        sa.Column("country", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("release_group_id", MBID, index=True),
        sa.Column("labels", sa.JSON, nullable=False),  # [[label_id, name, catalog_number]]
        sa.Column("media", sa.JSON, nullable=False),  # [[position, format, track_count]]
        sa.Column("fetched_at", sa.DateTime, nullable=False),
    ]


artist_fetches = sa.Table(
    "mb_artist_fetches",
    metadata,
    sa.Column("artist_id", MBID, primary_key=True),
    sa.Column("fetched_at", sa.DateTime, nullable=False),
    sa.Column("release_group_count", sa.Integer, nullable=False),
    sa.Column("release_count", sa.Integer, nullable=False),
)
release_groups = sa.Table(
    "mb_release_groups",
    metadata,
    sa.Column("artist_id", MBID, primary_key=True),
    sa.Column("id", MBID, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("primary_type", sa.Text),
    sa.Column("secondary_types", sa.JSON, nullable=False),
    sa.Column("first_release_date", sa.Text),
    sa.Column("fetched_at", sa.DateTime, nullable=False),
)
# Releases of an artist, i.e. the releases of each of its groups (release_group_id).
releases = sa.Table(
    "mb_releases",
    metadata,
    sa.Column("artist_id", MBID, primary_key=True),
    sa.Column("id", MBID, primary_key=True),
    *_release_columns(),
)
tracklists = sa.Table(
    "mb_tracklists",
    metadata,
    sa.Column("release_id", MBID, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("date", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("release_group_id", MBID),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("fetched_at", sa.DateTime, nullable=False),
)
media = sa.Table(
    "mb_media",
    metadata,
    sa.Column("release_id", MBID, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # order in the response
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("format", sa.Text),
    sa.Column("title", sa.Text),
)
tracks = sa.Table(
    "mb_tracks",
    metadata,
    sa.Column("release_id", MBID, primary_key=True),
    sa.Column("medium_seq", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("number", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("length_ms", sa.Integer),
    # Indexed: the library doctor asks "which releases hold this recording?".
    sa.Column("recording_id", MBID, nullable=False, index=True),
    sa.Column("track_id", MBID),
)
label_fetches = sa.Table(
    "mb_label_fetches",
    metadata,
    sa.Column("label_id", MBID, primary_key=True),
    sa.Column("fetched_at", sa.DateTime, nullable=False),
    sa.Column("release_count", sa.Integer, nullable=False),
)
label_releases = sa.Table(
    "mb_label_releases",
    metadata,
    sa.Column("label_id", MBID, primary_key=True),
    sa.Column("id", MBID, primary_key=True),
    *_release_columns(),
)


class MusicBrainzCache:
    """Reads and writes the ``mb_*`` tables; creates them on first use."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)

    # Artists ------------------------------------------------------------------------

    def artist_graph(self, artist_id: str) -> tuple[ArtistGraph, datetime] | None:
        with self._engine.connect() as conn:
            fetched = conn.execute(
                sa.select(artist_fetches.c.fetched_at).where(
                    artist_fetches.c.artist_id == artist_id
                )
            ).scalar_one_or_none()
            if fetched is None:
                return None
            groups = conn.execute(
                sa.select(release_groups)
                .where(release_groups.c.artist_id == artist_id)
                .order_by(release_groups.c.id)
            )
            rels = conn.execute(
                sa.select(releases).where(releases.c.artist_id == artist_id).order_by(releases.c.id)
            )
            graph = ArtistGraph(
                artist_id=artist_id,
                release_groups=tuple(_group_from_row(row._mapping) for row in groups),
                releases=tuple(_release_from_row(row._mapping) for row in rels),
            )
        return graph, _from_db(fetched)

    def store_artist_graph(self, graph: ArtistGraph, fetched_at: datetime) -> None:
        at = _to_db(fetched_at)
        key = graph.artist_id
        with self._engine.begin() as conn:
            for table in (release_groups, releases, artist_fetches):
                conn.execute(sa.delete(table).where(table.c.artist_id == key))
            _insert(conn, release_groups, (_group_row(key, g, at) for g in graph.release_groups))
            _insert(conn, releases, (_release_row("artist_id", key, r, at) for r in graph.releases))
            conn.execute(
                sa.insert(artist_fetches).values(
                    artist_id=key,
                    fetched_at=at,
                    release_group_count=len(graph.release_groups),
                    release_count=len(graph.releases),
                )
            )

    # Releases -----------------------------------------------------------------------

    def tracklist(self, release_id: str) -> tuple[Tracklist, datetime] | None:
        with self._engine.connect() as conn:
            head = conn.execute(
                sa.select(tracklists).where(tracklists.c.release_id == release_id)
            ).one_or_none()
            if head is None:
                return None
            medium_rows = conn.execute(
                sa.select(media).where(media.c.release_id == release_id).order_by(media.c.seq)
            ).all()
            track_rows = conn.execute(
                sa.select(tracks)
                .where(tracks.c.release_id == release_id)
                .order_by(tracks.c.medium_seq, tracks.c.seq)
            ).all()
        by_medium: dict[int, list[Track]] = {}
        for row in track_rows:
            by_medium.setdefault(row.medium_seq, []).append(
                Track(
                    position=row.position,
                    number=row.number,
                    title=row.title,
                    length_ms=row.length_ms,
                    recording_id=row.recording_id,
                    track_id=row.track_id,
                )
            )
        value = Tracklist(
            release_id=head.release_id,
            title=head.title,
            date=head.date,
            country=head.country,
            status=head.status,
            release_group_id=head.release_group_id,
            labels=_labels_from_json(head.labels),
            media=tuple(
                Medium(m.position, m.format, m.title, tuple(by_medium.get(m.seq, ())))
                for m in medium_rows
            ),
        )
        return value, _from_db(head.fetched_at)

    def releases_holding(
        self, recording_ids: Iterable[str]
    ) -> dict[str, list[tuple[str, str, str | None]]]:
        """recording id → [(release id, title, release group id)] of cached tracklists."""
        wanted = sorted(set(recording_ids))
        found: dict[str, list[tuple[str, str, str | None]]] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                query = (
                    sa.select(
                        tracks.c.recording_id,
                        tracklists.c.release_id,
                        tracklists.c.title,
                        tracklists.c.release_group_id,
                    )
                    .join(tracklists, tracklists.c.release_id == tracks.c.release_id)
                    .where(tracks.c.recording_id.in_(wanted[start : start + 500]))
                    .distinct()
                )
                for recording_id, release_id, title, group_id in conn.execute(query):
                    found.setdefault(recording_id, []).append((release_id, title, group_id))
        return found

    def store_tracklist(self, value: Tracklist, fetched_at: datetime) -> None:
        key = value.release_id
        with self._engine.begin() as conn:
            for table in (tracks, media, tracklists):
                conn.execute(sa.delete(table).where(table.c.release_id == key))
            conn.execute(
                sa.insert(tracklists).values(
                    release_id=key,
                    title=value.title,
                    date=value.date,
                    country=value.country,
                    status=value.status,
                    release_group_id=value.release_group_id,
                    labels=_labels_to_json(value.labels),
                    fetched_at=_to_db(fetched_at),
                )
            )
            _insert(
                conn,
                media,
                (
                    {
                        "release_id": key,
                        "seq": i,
                        "position": m.position,
                        "format": m.format,
                        "title": m.title,
                    }
                    for i, m in enumerate(value.media)
                ),
            )
            _insert(
                conn,
                tracks,
                (
                    {"release_id": key, "medium_seq": i, "seq": j, **_track_row(t)}
                    for i, m in enumerate(value.media)
                    for j, t in enumerate(m.tracks)
                ),
            )

    # Labels -------------------------------------------------------------------------

    def label_releases(self, label_id: str) -> tuple[tuple[Release, ...], datetime] | None:
        with self._engine.connect() as conn:
            fetched = conn.execute(
                sa.select(label_fetches.c.fetched_at).where(label_fetches.c.label_id == label_id)
            ).scalar_one_or_none()
            if fetched is None:
                return None
            rows = conn.execute(
                sa.select(label_releases)
                .where(label_releases.c.label_id == label_id)
                .order_by(label_releases.c.id)
            )
            found = tuple(_release_from_row(row._mapping) for row in rows)
        return found, _from_db(fetched)

    def store_label_releases(
        self, label_id: str, found: Iterable[Release], fetched_at: datetime
    ) -> None:
        at = _to_db(fetched_at)
        found = list(found)
        with self._engine.begin() as conn:
            for table in (label_releases, label_fetches):
                conn.execute(sa.delete(table).where(table.c.label_id == label_id))
            _insert(
                conn, label_releases, (_release_row("label_id", label_id, r, at) for r in found)
            )
            conn.execute(
                sa.insert(label_fetches).values(
                    label_id=label_id, fetched_at=at, release_count=len(found)
                )
            )


def _insert(conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    batch = list(rows)
    if batch:  # executemany with an empty list is an error in SQLAlchemy
        conn.execute(sa.insert(table), batch)


# Stored as naive UTC: SQLite has no time zones and both backends then compare alike.
def _to_db(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _from_db(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _group_row(artist_id: str, group: ReleaseGroup, at: datetime) -> dict[str, Any]:
    return {
        "artist_id": artist_id,
        "id": group.id,
        "title": group.title,
        "primary_type": group.primary_type,
        "secondary_types": list(group.secondary_types),
        "first_release_date": group.first_release_date,
        "fetched_at": at,
    }


def _group_from_row(row: Mapping[Any, Any]) -> ReleaseGroup:
    return ReleaseGroup(
        id=row["id"],
        title=row["title"],
        primary_type=row["primary_type"],
        secondary_types=tuple(row["secondary_types"]),
        first_release_date=row["first_release_date"],
    )


def _release_row(owner: str, owner_id: str, release: Release, at: datetime) -> dict[str, Any]:
    return {
        owner: owner_id,
        "id": release.id,
        "title": release.title,
        "date": release.date,
        "country": release.country,
        "status": release.status,
        "release_group_id": release.release_group_id,
        "labels": _labels_to_json(release.labels),
        "media": [[m.position, m.format, m.track_count] for m in release.media],
        "fetched_at": at,
    }


def _release_from_row(row: Mapping[Any, Any]) -> Release:
    return Release(
        id=row["id"],
        title=row["title"],
        date=row["date"],
        country=row["country"],
        status=row["status"],
        release_group_id=row["release_group_id"],
        labels=_labels_from_json(row["labels"]),
        media=tuple(MediumSummary(p, f, n) for p, f, n in row["media"]),
    )


def _track_row(track: Track) -> dict[str, Any]:
    return {
        "position": track.position,
        "number": track.number,
        "title": track.title,
        "length_ms": track.length_ms,
        "recording_id": track.recording_id,
        "track_id": track.track_id,
    }


def _labels_to_json(labels: Iterable[LabelCredit]) -> list[list[str | None]]:
    return [[c.label_id, c.name, c.catalog_number] for c in labels]


def _labels_from_json(data: list[list[str | None]]) -> tuple[LabelCredit, ...]:
    return tuple(LabelCredit(i, n, c) for i, n, c in data)

"""`slskdn mb ...`: the MusicBrainz release graph, discographies, tracklists, label releases.

Exit codes: 2 for a malformed MBID, 1 for an unknown id, an unreachable MusicBrainz with
nothing cached, or an unreadable answer. With ``--json`` the output shape is stable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from slskdn.cli.common import (
    EXIT_BAD_INPUT,
    console,
    current_settings,
    database_engine,
    err_console,
    fail,
    print_json,
)
from slskdn.config import Settings
from slskdn.domain.discography import Profile, date_key, group_by_type, type_label
from slskdn.musicbrainz.errors import (
    InvalidMbid,
    MalformedResponse,
    MusicBrainzUnavailable,
    NotFound,
    parse_mbid,
)
from slskdn.musicbrainz.model import ArtistGraph, Fetched, LabelRelease, Tracklist
from slskdn.musicbrainz.service import Discography, MusicBrainzService

app = typer.Typer(help="MusicBrainz: release graph, discographies, tracklists.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (stable shape).")]
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Ask MusicBrainz even if the cache is fresh.")
]


def build_service(settings: Settings, engine: sa.Engine, **overrides: Any) -> MusicBrainzService:
    """The one place the CLI wires the service; tests wrap it to inject a fake clock."""
    return MusicBrainzService.from_settings(settings.musicbrainz, engine, **overrides)


def _engine(settings: Settings) -> sa.Engine:
    return database_engine(settings)


@contextmanager
def _service() -> Iterator[MusicBrainzService]:
    settings = current_settings()
    engine = _engine(settings)
    try:
        try:
            service = build_service(settings, engine)
        except ValueError as exc:  # a base_url the client cannot use
            fail(str(exc), code=EXIT_BAD_INPUT)
        with _errors():
            yield service
    finally:
        engine.dispose()


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except InvalidMbid as exc:
        fail(str(exc), code=EXIT_BAD_INPUT)
    except NotFound as exc:
        fail(str(exc))
    except MusicBrainzUnavailable as exc:
        fail(f"{exc}, and nothing is cached for this id")
    except MalformedResponse as exc:
        fail(str(exc))


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None] | None]:
    """A page counter on a terminal; nothing otherwise (the log has the details)."""
    if not err_console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(f"{what}s", total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield update


def _provenance(fetched: Fetched[Any]) -> dict[str, Any]:
    return {
        "fetched_at": fetched.fetched_at.isoformat(),
        "from_cache": fetched.from_cache,
        "stale": fetched.stale,
    }


def _warn_if_stale(fetched: Fetched[Any]) -> None:
    if fetched.stale:
        err_console.print(
            "[yellow]warning:[/] MusicBrainz could not be reached; showing the cached copy "
            f"from {fetched.fetched_at:%Y-%m-%d %H:%M} UTC",
            highlight=False,
        )


@app.command("artist-graph")
def artist_graph(
    artist_mbid: Annotated[str, typer.Argument(help="Artist MBID.")],
    json_out: JsonOption = False,
    refresh: RefreshOption = False,
) -> None:
    """Fetch (or refresh) an artist's release groups and releases; print a summary."""
    with _service() as service, _progress() as progress:
        fetched = service.artist_graph(artist_mbid, refresh, progress)
    data = {**_graph_json(fetched.value), **_provenance(fetched)}
    if json_out:
        print_json(data)
        return
    _warn_if_stale(fetched)
    console.print(
        f"artist {data['artist_id']}: {data['release_group_count']} release groups, "
        f"{data['release_count']} releases",
        highlight=False,
    )
    table = Table("type", "release groups", "releases")
    for kind, groups in data["release_groups_by_type"].items():
        table.add_row(kind, str(groups), str(data["releases_by_type"].get(kind, 0)))
    for kind, count in data["releases_by_type"].items():
        if kind not in data["release_groups_by_type"]:
            table.add_row(kind, "0", str(count))
    console.print(table)


def _graph_json(graph: ArtistGraph) -> dict[str, Any]:
    kinds = {g.id: type_label(g.primary_type, g.secondary_types) for g in graph.release_groups}
    per_group = Counter(r.release_group_id for r in graph.releases)
    groups = sorted(
        graph.release_groups,
        key=lambda g: (date_key(g.first_release_date), g.title.casefold(), g.id),
    )
    return {
        "artist_id": graph.artist_id,
        "release_group_count": len(graph.release_groups),
        "release_count": len(graph.releases),
        "release_groups_by_type": dict(sorted(Counter(kinds.values()).items())),
        "releases_by_type": dict(
            sorted(
                Counter(
                    kinds.get(r.release_group_id or "", "(unknown group)") for r in graph.releases
                ).items()
            )
        ),
        "release_groups": [
            {
                "id": g.id,
                "title": g.title,
                "type": kinds[g.id],
                "primary_type": g.primary_type,
                "secondary_types": list(g.secondary_types),
                "first_release_date": g.first_release_date,
                "release_count": per_group.get(g.id, 0),
            }
            for g in groups
        ],
    }


@app.command("discography")
def discography_command(
    artist_mbid: Annotated[str, typer.Argument(help="Artist MBID.")],
    profile: Annotated[
        Profile, typer.Option("--profile", help="core, extended or all.", case_sensitive=False)
    ] = Profile.CORE,
    include_live: Annotated[
        bool,
        typer.Option(
            "--include-live", help="core: also live albums (config: musicbrainz.core_include_live)."
        ),
    ] = False,
    include_compilations: Annotated[
        bool,
        typer.Option(
            "--include-compilations",
            help="core: also compilations (config: musicbrainz.core_include_compilations).",
        ),
    ] = False,
    json_out: JsonOption = False,
    refresh: RefreshOption = False,
) -> None:
    """An artist's discography, one chosen release per release group."""
    config = current_settings().musicbrainz
    with _service() as service, _progress() as progress:
        fetched = service.discography(
            artist_mbid,
            profile,
            refresh,
            core_includes_live=include_live or config.core_include_live,
            core_includes_compilations=include_compilations or config.core_include_compilations,
            progress=progress,
        )
    if json_out:
        print_json({**_discography_json(fetched.value), **_provenance(fetched)})
        return
    _warn_if_stale(fetched)
    # MBIDs never shrink (a cut id is useless); titles wrap instead. Group ids: --json.
    table = Table("year", "title", title=f"{profile} discography")
    table.add_column("chosen release", no_wrap=True, min_width=36)
    for kind, entries in group_by_type(fetched.value.entries).items():
        table.add_section()
        table.add_row("", f"[bold]{kind}[/]", "")
        for e in entries:
            table.add_row(str(e.year or "?"), e.title, e.release_id or "-")
    console.print(table)


def _discography_json(value: Discography) -> dict[str, Any]:
    return {
        "artist_id": value.artist_id,
        "profile": str(value.profile),
        "count": len(value.entries),
        "entries": [
            {
                "release_group_id": e.release_group_id,
                "release_id": e.release_id,
                "title": e.title,
                "year": e.year,
                "type": e.type,
                "primary_type": e.primary_type,
                "secondary_types": list(e.secondary_types),
            }
            for e in value.entries
        ],
    }


@app.command("release")
def release_command(
    release_mbid: Annotated[str, typer.Argument(help="Release MBID.")],
    json_out: JsonOption = False,
    refresh: RefreshOption = False,
) -> None:
    """A release: title, date, country, labels, media and tracks."""
    with _service() as service:
        fetched = service.release(release_mbid, refresh)
    data = {**_release_json(fetched.value), **_provenance(fetched)}
    if json_out:
        print_json(data)
        return
    _warn_if_stale(fetched)
    value = fetched.value
    labels = ", ".join(
        f"{label['name'] or '?'} {label['catalog_number'] or ''}".strip()
        for label in data["labels"]
    )
    console.print(
        f"[bold]{value.title}[/]  {value.date or '?'}  {value.country or '?'}  "
        f"{value.status or ''}\nlabels: {labels or '-'}",
        highlight=False,
    )
    if not value.media:
        console.print("no media listed in MusicBrainz")
    for medium in value.media:
        table = Table(
            "#",
            "title",
            "length",
            title=_medium_title(medium.position, medium.format, medium.title),
        )
        table.add_column("recording", no_wrap=True, min_width=36)
        for t in medium.tracks:
            table.add_row(
                t.number or str(t.position), t.title, _length(t.length_ms), t.recording_id
            )
        console.print(table)


def _medium_title(position: int, fmt: str | None, title: str | None) -> str:
    return " ".join(part for part in (f"medium {position}", fmt, title) if part)


def _length(ms: int | None) -> str:
    if ms is None:
        return "?"
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _release_json(value: Tracklist) -> dict[str, Any]:
    return {
        "id": value.release_id,
        "title": value.title,
        "date": value.date,
        "country": value.country,
        "status": value.status,
        "release_group_id": value.release_group_id,
        "labels": [
            {"id": c.label_id, "name": c.name, "catalog_number": c.catalog_number}
            for c in value.labels
        ],
        "medium_count": len(value.media),
        "track_count": value.track_count,
        "media": [
            {
                "position": m.position,
                "format": m.format,
                "title": m.title,
                "tracks": [
                    {
                        "position": t.position,
                        "number": t.number,
                        "title": t.title,
                        "length_ms": t.length_ms,
                        "recording_id": t.recording_id,
                        "track_id": t.track_id,
                    }
                    for t in m.tracks
                ],
            }
            for m in value.media
        ],
    }


@app.command("label")
def label_command(
    label_mbid: Annotated[str, typer.Argument(help="Label MBID.")],
    json_out: JsonOption = False,
    refresh: RefreshOption = False,
) -> None:
    """The releases of a label, oldest first."""
    with _service() as service, _progress() as progress:
        fetched = service.label_releases(label_mbid, refresh, progress)
    rows = sorted(
        fetched.value,
        key=lambda lr: (date_key(lr.release.date), lr.release.title.casefold(), lr.release.id),
    )
    if json_out:
        print_json(
            {
                "label_id": parse_mbid(label_mbid, "label"),
                "count": len(rows),
                "releases": [_label_release_json(lr) for lr in rows],
                **_provenance(fetched),
            }
        )
        return
    _warn_if_stale(fetched)
    # Country, formats and release groups are in --json; an 80-column terminal fits these.
    table = Table(title=f"label {parse_mbid(label_mbid, 'label')}")
    table.add_column("date", no_wrap=True, min_width=10)
    table.add_column("catalogue #", no_wrap=True)
    table.add_column("title")
    table.add_column("release", no_wrap=True, min_width=36)
    for lr in rows:
        r = lr.release
        table.add_row(r.date or "?", ", ".join(lr.catalog_numbers) or "-", r.title, r.id)
    console.print(table)


def _label_release_json(lr: LabelRelease) -> dict[str, Any]:
    r = lr.release
    return {
        "id": r.id,
        "title": r.title,
        "date": r.date,
        "country": r.country,
        "status": r.status,
        "release_group_id": r.release_group_id,
        "catalog_numbers": list(lr.catalog_numbers),
        "formats": list(r.formats),
        "track_count": r.track_count,
    }

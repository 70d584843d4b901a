"""Discography profiles and the choice of one release per release group. Pure: no I/O.

Profiles (a release group's *type* is its primary type plus its secondary types):

- ``core``: studio albums, i.e. primary type Album with no secondary type. Live albums
  and compilations join only when ``ProfileOptions`` says so.
- ``extended``: ``core``, plus EPs (primary type EP, no secondary type), plus live albums
  and compilations selected by this rule: primary type Album or EP, every secondary type
  in {Live, Compilation}, and at least one *Official* release known for the group. The
  official-release test keeps out bootleg recordings of concerts and unofficial
  compilations; soundtracks, remixes, DJ-mixes, demos and the like are never in it.
- ``all``: every release group, ordered by type (see ``type_order``) so it can be
  shown grouped by type.

One release per group (``choose_release``), the first by:

1. status: Official, then no status, then Promotion, Bootleg, Pseudo-Release, others;
2. country: the preferred countries in the configured order, then any other;
3. date: earliest first; a partial date sorts after full dates of the same year or
   month ("1978" after "1978-06-01"), and no date sorts last;
4. media: complete media first (at least one medium, every medium with tracks), then
   the most tracks;
5. id, so the choice never depends on the order releases arrive in.

Inputs are read through small protocols, so this module does not import the
MusicBrainz adapter; its frozen dataclasses satisfy them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

LIVE = "Live"
COMPILATION = "Compilation"
PRIMARY_ORDER = ("Album", "EP", "Single", "Broadcast", "Other")
STATUS_RANK = {"official": 0, "": 1, "promotion": 2, "bootleg": 3, "pseudo-release": 4}
_UNKNOWN_STATUS_RANK = 5


class GroupLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def primary_type(self) -> str | None: ...
    @property
    def secondary_types(self) -> Sequence[str]: ...
    @property
    def first_release_date(self) -> str | None: ...


class ReleaseLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def date(self) -> str | None: ...
    @property
    def release_group_id(self) -> str | None: ...
    @property
    def track_count(self) -> int: ...
    @property
    def media_complete(self) -> bool: ...


class Profile(StrEnum):
    CORE = "core"
    EXTENDED = "extended"
    ALL = "all"


@dataclass(frozen=True)
class ProfileOptions:
    """What ``core`` admits beyond studio albums, and the country preference."""

    core_includes_live: bool = False
    core_includes_compilations: bool = False
    preferred_countries: tuple[str, ...] = ()

    @property
    def core_secondary_types(self) -> frozenset[str]:
        allowed = set()
        if self.core_includes_live:
            allowed.add(LIVE)
        if self.core_includes_compilations:
            allowed.add(COMPILATION)
        return frozenset(allowed)


@dataclass(frozen=True)
class Entry:
    """One line of a discography: a release group and the release chosen for it."""

    release_group_id: str
    release_id: str | None  # None when no release of the group is known
    title: str
    year: int | None
    type: str
    primary_type: str | None
    secondary_types: tuple[str, ...]


def type_label(primary_type: str | None, secondary_types: Sequence[str]) -> str:
    """'Album', 'Album + Live', 'EP + Compilation + Live', '(no type)'."""
    parts = [primary_type or "(no type)", *sorted(secondary_types)]
    return " + ".join(parts)


def type_order(primary_type: str | None, secondary_types: Sequence[str]) -> tuple[int, int, str]:
    """Sort key: primary types in PRIMARY_ORDER, plain before any secondary type."""
    rank = (
        PRIMARY_ORDER.index(primary_type) if primary_type in PRIMARY_ORDER else len(PRIMARY_ORDER)
    )
    return rank, len(secondary_types), type_label(primary_type, secondary_types)


def release_key(
    release: ReleaseLike, preferred_countries: Sequence[str]
) -> tuple[int, int, tuple[int, int, int], int, int, str]:
    """The sort key of the release-choice rule (smallest wins); see the module docstring."""
    status = STATUS_RANK.get((release.status or "").lower(), _UNKNOWN_STATUS_RANK)
    country = (
        preferred_countries.index(release.country)
        if release.country in preferred_countries
        else len(preferred_countries)
    )
    return (
        status,
        country,
        date_key(release.date),
        0 if release.media_complete else 1,
        -release.track_count,
        release.id,
    )


def choose_release(
    releases: Iterable[ReleaseLike], preferred_countries: Sequence[str] = ()
) -> ReleaseLike | None:
    """The release that stands for its group, or None when there is none."""
    return min(releases, key=lambda r: release_key(r, preferred_countries), default=None)


def date_key(date: str | None) -> tuple[int, int, int]:
    """'2010-05-10' → (2010, 5, 10); missing parts sort late; unparseable → last."""
    if not date:
        return (9999, 13, 32)
    parts = date.split("-")
    try:
        numbers = [int(p) for p in parts[:3]]
    except ValueError:
        return (9999, 13, 32)
    numbers += [13, 32][len(numbers) - 1 :]
    return numbers[0], numbers[1], numbers[2]


def year_of(date: str | None) -> int | None:
    head = (date or "")[:4]
    return int(head) if len(head) == 4 and head.isdigit() else None


def in_core(group: GroupLike, options: ProfileOptions) -> bool:
    return group.primary_type == "Album" and set(group.secondary_types) <= (
        options.core_secondary_types
    )


def in_extended(group: GroupLike, releases: Sequence[ReleaseLike], options: ProfileOptions) -> bool:
    if in_core(group, options):
        return True
    secondary = set(group.secondary_types)
    if group.primary_type == "EP" and not secondary:
        return True
    return (
        group.primary_type in ("Album", "EP")
        and bool(secondary)
        and secondary <= {LIVE, COMPILATION}
        and any((r.status or "").lower() == "official" for r in releases)
    )


def discography(
    groups: Iterable[GroupLike],
    releases: Iterable[ReleaseLike],
    profile: Profile,
    options: ProfileOptions | None = None,
) -> tuple[Entry, ...]:
    """The entries of ``profile``, ordered by type, year, title and id."""
    options = options or ProfileOptions()
    by_group: dict[str, list[ReleaseLike]] = {}
    for release in releases:
        if release.release_group_id:
            by_group.setdefault(release.release_group_id, []).append(release)
    entries = []
    for group in groups:
        own = by_group.get(group.id, [])
        if profile is Profile.CORE and not in_core(group, options):
            continue
        if profile is Profile.EXTENDED and not in_extended(group, own, options):
            continue
        chosen = choose_release(own, options.preferred_countries)
        entries.append(
            Entry(
                release_group_id=group.id,
                release_id=chosen.id if chosen else None,
                title=group.title,
                year=year_of(group.first_release_date) or year_of(chosen.date if chosen else None),
                type=type_label(group.primary_type, group.secondary_types),
                primary_type=group.primary_type,
                secondary_types=tuple(sorted(group.secondary_types)),
            )
        )
    entries.sort(
        key=lambda e: (
            type_order(e.primary_type, e.secondary_types),
            e.year or 9999,
            e.title.casefold(),
            e.release_group_id,
        )
    )
    return tuple(entries)


def group_by_type(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """Entries keyed by type label, in the order they come (``discography`` sorts them)."""
    grouped: dict[str, list[Entry]] = {}
    for entry in entries:
        grouped.setdefault(entry.type, []).append(entry)
    return grouped

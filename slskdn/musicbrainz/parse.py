"""Turn musicbrainzngs' parsed dicts into our model, at the edge.

musicbrainzngs parses XML into loose dicts (every scalar a string, lists keyed
``<name>-list`` with ``<name>-count``). Anything we rely on that is missing or not a
number is a MalformedResponse, so a truncated or foreign document never reaches the cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slskdn.musicbrainz.errors import InvalidMbid, MalformedResponse, parse_mbid
from slskdn.musicbrainz.model import (
    LabelCredit,
    Medium,
    MediumSummary,
    Release,
    ReleaseGroup,
    Track,
    Tracklist,
)

Raw = Mapping[str, Any]


def browse_page(result: Raw, entity: str) -> tuple[list[Raw], int]:
    """The items of one browse page and the total count MusicBrainz reports."""
    items = result.get(f"{entity}-list")
    count = result.get(f"{entity}-count")
    if not isinstance(items, list) or not isinstance(count, int):
        raise MalformedResponse(f"browse response has no <{entity}-list count=...>")
    return items, count


def release_group(raw: Raw) -> ReleaseGroup:
    return ReleaseGroup(
        id=_mbid(raw, "release-group"),
        title=raw.get("title", ""),
        primary_type=raw.get("primary-type") or None,
        secondary_types=tuple(raw.get("secondary-type-list") or ()),
        first_release_date=raw.get("first-release-date") or None,
    )


def release(raw: Raw) -> Release:
    return Release(
        id=_mbid(raw, "release"),
        title=raw.get("title", ""),
        date=raw.get("date") or None,
        country=raw.get("country") or None,
        status=raw.get("status") or None,
        release_group_id=_optional_mbid(raw.get("release-group"), "release-group"),
        labels=_labels(raw),
        media=tuple(_medium_summary(m) for m in raw.get("medium-list") or ()),
    )


def tracklist(result: Raw) -> Tracklist:
    raw = result.get("release")
    if not isinstance(raw, Mapping):
        raise MalformedResponse("release lookup response has no <release>")
    return Tracklist(
        release_id=_mbid(raw, "release"),
        title=raw.get("title", ""),
        date=raw.get("date") or None,
        country=raw.get("country") or None,
        status=raw.get("status") or None,
        release_group_id=_optional_mbid(raw.get("release-group"), "release-group"),
        labels=_labels(raw),
        media=tuple(_medium(m, index) for index, m in enumerate(raw.get("medium-list") or (), 1)),
    )


def _labels(raw: Raw) -> tuple[LabelCredit, ...]:
    credits = []
    for info in raw.get("label-info-list") or ():
        label = info.get("label") or {}
        credits.append(
            LabelCredit(
                label_id=_optional_mbid(label, "label"),
                name=label.get("name"),
                catalog_number=info.get("catalog-number") or None,
            )
        )
    return tuple(credits)


def _medium_summary(raw: Raw) -> MediumSummary:
    # Browse pages carry only <track-list count="N"/>; lookups carry the tracks too.
    count = raw.get("track-count")
    if count is None:
        count = len(raw.get("track-list") or ())
    return MediumSummary(
        position=_int(raw["position"], "medium position") if raw.get("position") else None,
        format=raw.get("format") or None,
        track_count=_int(count, "track count"),
    )


def _medium(raw: Raw, index: int) -> Medium:
    # The pregap (hidden track before track 1, position 0) and data tracks are real
    # tracks with recordings that a file on disk can match, so they are kept in order.
    raws: list[Raw] = []
    if raw.get("pregap"):
        raws.append(raw["pregap"])
    raws.extend(raw.get("track-list") or ())
    raws.extend(raw.get("data-track-list") or ())
    return Medium(
        position=_int(raw.get("position") or index, "medium position"),
        format=raw.get("format") or None,
        title=raw.get("title") or None,
        tracks=tuple(_track(t) for t in raws),
    )


def _track(raw: Raw) -> Track:
    recording = raw.get("recording")
    if not isinstance(recording, Mapping):
        raise MalformedResponse("a <track> has no <recording>")
    length = raw.get("length") or recording.get("length")
    return Track(
        position=_int(_required(raw, "position", "track"), "track position"),
        number=raw.get("number") or "",
        # <track><title> exists only when the track title differs from the recording's.
        title=raw.get("title") or recording.get("title", ""),
        length_ms=_int(length, "track length") if length else None,
        recording_id=_mbid(recording, "recording"),
        track_id=_optional_mbid(raw, "track"),
    )


def _mbid(raw: Raw, what: str) -> str:
    """An id from the response; checked so that garbage never becomes a cache key."""
    value = _required(raw, "id", what)
    try:
        return parse_mbid(value, what)
    except InvalidMbid:
        raise MalformedResponse(f"a <{what}> has an id that is not an MBID: {value!r}") from None


def _optional_mbid(raw: Raw | None, what: str) -> str | None:
    return _mbid(raw, what) if raw and raw.get("id") else None


def _required(raw: Raw, key: str, what: str) -> str:
    value = raw.get(key)
    if not value:
        raise MalformedResponse(f"a <{what}> has no {key}")
    return str(value)


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedResponse(f"{what} is not a number: {value!r}") from None

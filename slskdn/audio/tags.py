"""Read tags (incl. MusicBrainz ids as Picard writes them) into a plain `TrackTags`.

The trap: Vorbis `MUSICBRAINZ_TRACKID`, MP4 `MusicBrainz Track Id` and ID3
`UFID:http://musicbrainz.org` hold the *recording* id; the track on the release is
"Release Track Id". ID3v2.3 has no multi-value frames, so several artist ids arrive
joined with "/".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags

_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SPLIT = re.compile(r"[/;,\s]+")


@dataclass(frozen=True)
class TrackTags:
    tag_format: str  # "vorbis", "id3v2.3", "id3v2.4", "mp4", "none", or mutagen's tag class
    artist: str | None = None
    albumartist: str | None = None
    album: str | None = None
    title: str | None = None
    track_number: int | None = None
    track_total: int | None = None
    disc_number: int | None = None
    disc_total: int | None = None
    label: str | None = None
    recording_id: str | None = None
    release_id: str | None = None
    release_group_id: str | None = None
    release_track_id: str | None = None
    artist_ids: tuple[str, ...] = ()
    malformed_mbids: tuple[str, ...] = ()  # "release_group_id='not-a-uuid'", ignored above


def read_tags(path: str | Path) -> TrackTags:
    """Tags of one file (raises mutagen's errors for unreadable files: see analysis.py)."""
    return tags_from(mutagen.File(path))


def tags_from(audio: Any) -> TrackTags:
    """Convert a `mutagen.File` result (or None) into `TrackTags`."""
    tags = getattr(audio, "tags", None)
    if tags is None:
        return TrackTags(tag_format="none")
    if isinstance(tags, ID3):
        raw, fmt = _from_id3(tags), f"id3v2.{tags.version[1]}"
    elif isinstance(tags, MP4Tags):
        raw, fmt = _from_mp4(tags), "mp4"
    elif hasattr(tags, "vendor"):  # Vorbis comments: FLAC, Ogg Vorbis, Opus, Ogg FLAC
        raw, fmt = _from_vorbis(tags), "vorbis"
    else:  # APEv2 and others: keys are Vorbis-like, case-insensitive
        raw, fmt = _from_vorbis(tags), type(tags).__name__.lower()
    return _build(raw, fmt)


def _first(values: list[str] | None) -> str | None:
    for v in values or []:
        if str(v).strip():
            return str(v).strip()
    return None


def _number_pair(value: str | None) -> tuple[int | None, int | None]:
    """"3/12" -> (3, 12); "03" -> (3, None); junk -> (None, None)."""
    if not value:
        return None, None
    head, _, tail = value.partition("/")
    return _int(head), _int(tail)


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None  # 0 means "unset"


def _build(raw: dict[str, list[str]], fmt: str) -> TrackTags:
    bad: list[str] = []

    def ids(key: str) -> list[str]:
        good = []
        for value in raw.get(key, []):
            for part in _SPLIT.split(str(value).strip()):
                if not part:
                    continue
                if _MBID.match(part.lower()):
                    good.append(part.lower())
                else:
                    bad.append(f"{key}={part!r}")
        return good

    track, track_total = _number_pair(_first(raw.get("tracknumber")))
    disc, disc_total = _number_pair(_first(raw.get("discnumber")))
    single: dict[str, str | None] = {
        k: next(iter(ids(k)), None)
        for k in ("recording_id", "release_id", "release_group_id", "release_track_id")}
    return TrackTags(
        tag_format=fmt,
        artist=_first(raw.get("artist")),
        albumartist=_first(raw.get("albumartist")),
        album=_first(raw.get("album")),
        title=_first(raw.get("title")),
        track_number=track,
        track_total=_int(_first(raw.get("tracktotal"))) or track_total,
        disc_number=disc,
        disc_total=_int(_first(raw.get("disctotal"))) or disc_total,
        label=_first(raw.get("label")),
        artist_ids=tuple(dict.fromkeys(ids("artist_ids"))),
        malformed_mbids=tuple(bad),
        **single,
    )


_VORBIS_KEYS = {
    "artist": ("artist",), "albumartist": ("albumartist", "album artist"),
    "album": ("album",), "title": ("title",), "tracknumber": ("tracknumber",),
    "tracktotal": ("tracktotal", "totaltracks"), "discnumber": ("discnumber",),
    "disctotal": ("disctotal", "totaldiscs"), "label": ("label", "organization"),
    "recording_id": ("musicbrainz_trackid",),  # sic: the recording, not the track
    "release_track_id": ("musicbrainz_releasetrackid",),
    "release_id": ("musicbrainz_albumid",),
    "release_group_id": ("musicbrainz_releasegroupid",),
    "artist_ids": ("musicbrainz_artistid",),
}


def _from_vorbis(tags: Any) -> dict[str, list[str]]:
    lowered: dict[str, list[str]] = {}
    for key, value in tags.items():
        values = value if isinstance(value, list) else [value]
        lowered.setdefault(key.lower(), []).extend(str(v) for v in values)
    return {ours: [v for k in keys for v in lowered.get(k, [])]
            for ours, keys in _VORBIS_KEYS.items()}


_ID3_TEXT = {"artist": "TPE1", "albumartist": "TPE2", "album": "TALB", "title": "TIT2",
             "tracknumber": "TRCK", "discnumber": "TPOS", "label": "TPUB"}
_MB_TXXX = {"release_track_id": "MusicBrainz Release Track Id",
            "release_id": "MusicBrainz Album Id",
            "release_group_id": "MusicBrainz Release Group Id",
            "artist_ids": "MusicBrainz Artist Id"}


def _from_id3(tags: ID3) -> dict[str, list[str]]:
    raw = {ours: [str(t) for t in tags[frame].text] if frame in tags else []
           for ours, frame in _ID3_TEXT.items()}
    for ours, desc in _MB_TXXX.items():
        frame = tags.get(f"TXXX:{desc}")
        raw[ours] = [str(t) for t in frame.text] if frame else []
    ufid = tags.get("UFID:http://musicbrainz.org")
    raw["recording_id"] = [ufid.data.decode("ascii", "replace")] if ufid else []
    return raw


_MP4_TEXT = {"artist": "©ART", "albumartist": "aART", "album": "©alb", "title": "©nam"}
_MP4_FREEFORM = {"recording_id": "MusicBrainz Track Id", "label": "LABEL", **_MB_TXXX}


def _from_mp4(tags: MP4Tags) -> dict[str, list[str]]:
    raw = {ours: [str(v) for v in tags.get(atom, [])] for ours, atom in _MP4_TEXT.items()}
    for ours, atom in (("tracknumber", "trkn"), ("discnumber", "disk")):
        pairs = tags.get(atom) or []
        raw[ours] = [f"{pairs[0][0]}/{pairs[0][1]}"] if pairs else []
    for ours, name in _MP4_FREEFORM.items():
        values = tags.get(f"----:com.apple.iTunes:{name}", [])
        raw[ours] = [bytes(v).decode("utf-8", "replace") for v in values]
    return raw

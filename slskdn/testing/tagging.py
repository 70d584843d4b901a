"""Write tags the way MusicBrainz Picard does, per container (test corpus only).

The key layout is the point: Picard stores the *recording* id in Vorbis `MUSICBRAINZ_TRACKID`,
MP4 `MusicBrainz Track Id` and ID3 `UFID:http://musicbrainz.org`, and the *release track* id
under "Release Track Id". A reader that takes "track id" literally gets the wrong entity.
"""

from __future__ import annotations

from pathlib import Path

import mutagen
from mutagen.id3 import ID3, TALB, TIT2, TPE1, TPE2, TPOS, TPUB, TRCK, TXXX, UFID
from mutagen.mp4 import MP4, MP4FreeForm

PICARD_TAGS: dict[str, list[str]] = {
    "artist": ["Test Artist feat. Guest"],
    "albumartist": ["Test Artist"],
    "album": ["Synthetic Sessions"],
    "title": ["Pink Noise Blues"],
    "tracknumber": ["3"],
    "tracktotal": ["12"],
    "discnumber": ["1"],
    "disctotal": ["2"],
    "label": ["Loopback Records"],
    "recording_id": ["6f1a3b1e-8a7d-4c47-9d3e-2f8a0c1b5e01"],
    "release_track_id": ["0b6e9d0c-3d8f-4b8a-a1c7-5e2d7f9a4c02"],
    "release_id": ["9c2e4f6a-1b3d-4e5f-8a7b-6c5d4e3f2a03"],
    "release_group_id": ["4d3c2b1a-0f9e-4d8c-b7a6-958473625104"],
    "artist_ids": ["1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c05", "a1b2c3d4-e5f6-4b7c-8d9e-0f1a2b3c4d06"],
}

_VORBIS = {
    "artist": "ARTIST", "albumartist": "ALBUMARTIST", "album": "ALBUM", "title": "TITLE",
    "tracknumber": "TRACKNUMBER", "tracktotal": "TRACKTOTAL", "discnumber": "DISCNUMBER",
    "disctotal": "DISCTOTAL", "label": "LABEL", "recording_id": "MUSICBRAINZ_TRACKID",
    "release_track_id": "MUSICBRAINZ_RELEASETRACKID", "release_id": "MUSICBRAINZ_ALBUMID",
    "release_group_id": "MUSICBRAINZ_RELEASEGROUPID", "artist_ids": "MUSICBRAINZ_ARTISTID",
}
_ID3_TXXX = {
    "release_track_id": "MusicBrainz Release Track Id", "release_id": "MusicBrainz Album Id",
    "release_group_id": "MusicBrainz Release Group Id", "artist_ids": "MusicBrainz Artist Id",
}
_MP4_FREEFORM = {"recording_id": "MusicBrainz Track Id", "label": "LABEL", **_ID3_TXXX}
_MP4_TEXT = {"artist": "©ART", "albumartist": "aART", "album": "©alb", "title": "©nam"}


def tag_file(path: Path, tags: dict[str, list[str]], *, id3_version: int = 4) -> None:
    """Write `tags` (keys as in `PICARD_TAGS`) into `path` with Picard's key names."""
    suffix = Path(path).suffix.lower()
    if suffix == ".mp3":
        _tag_id3(path, tags, id3_version)
    elif suffix in (".m4a", ".mp4"):
        _tag_mp4(path, tags)
    else:
        audio = mutagen.File(path)
        if audio.tags is None:
            audio.add_tags()
        for key, name in _VORBIS.items():
            if key in tags:
                audio.tags[name] = tags[key]
        audio.save()


def _tag_id3(path: Path, tags: dict[str, list[str]], version: int) -> None:
    id3 = ID3()
    id3.add(TPE1(encoding=3, text=tags["artist"]))
    id3.add(TPE2(encoding=3, text=tags["albumartist"]))
    id3.add(TALB(encoding=3, text=tags["album"]))
    id3.add(TIT2(encoding=3, text=tags["title"]))
    id3.add(TRCK(encoding=3, text=f"{tags['tracknumber'][0]}/{tags['tracktotal'][0]}"))
    id3.add(TPOS(encoding=3, text=f"{tags['discnumber'][0]}/{tags['disctotal'][0]}"))
    id3.add(TPUB(encoding=3, text=tags["label"]))
    id3.add(UFID(owner="http://musicbrainz.org", data=tags["recording_id"][0].encode()))
    for key, desc in _ID3_TXXX.items():
        id3.add(TXXX(encoding=3, desc=desc, text=tags[key]))
    # v2.3 has no multi-value frames: mutagen joins values with "/", as Picard does.
    id3.save(path, v2_version=version)


def _tag_mp4(path: Path, tags: dict[str, list[str]]) -> None:
    mp4 = MP4(path)
    if mp4.tags is None:
        mp4.add_tags()
    atoms = mp4.tags
    assert atoms is not None
    for key, atom in _MP4_TEXT.items():
        atoms[atom] = tags[key]
    atoms["trkn"] = [(int(tags["tracknumber"][0]), int(tags["tracktotal"][0]))]
    atoms["disk"] = [(int(tags["discnumber"][0]), int(tags["disctotal"][0]))]
    for key, name in _MP4_FREEFORM.items():
        atoms[f"----:com.apple.iTunes:{name}"] = [MP4FreeForm(v.encode()) for v in tags[key]]
    mp4.save()

"""Small real tracks with Picard-style tags, for library, doctor and benchmark tests.

``write_track`` makes one real audio file of a given kind: genuine FLAC, an honest MP3, or
a FLAC decoded from a low-bitrate MP3 (a transcode), tagged like Picard would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from slskdn.testing.corpus import decode, encode_mp3
from slskdn.testing.signals import music
from slskdn.testing.tagging import tag_file

SAMPLE_RATE = 44100
KINDS = ("flac", "mp3_320", "mp3_128", "mp3_128_to_flac")


@dataclass(frozen=True)
class TrackTagsSpec:
    """The tags of one track of a release, in the user's words."""

    artist: str
    album: str
    title: str
    track_number: int
    track_total: int
    recording_id: str
    release_id: str
    release_group_id: str
    release_track_id: str
    artist_id: str
    disc_number: int = 1
    disc_total: int = 1
    label: str = "Loopback Records"

    def picard(self) -> dict[str, list[str]]:
        return {
            "artist": [self.artist],
            "albumartist": [self.artist],
            "album": [self.album],
            "title": [self.title],
            "tracknumber": [str(self.track_number)],
            "tracktotal": [str(self.track_total)],
            "discnumber": [str(self.disc_number)],
            "disctotal": [str(self.disc_total)],
            "label": [self.label],
            "recording_id": [self.recording_id],
            "release_track_id": [self.release_track_id],
            "release_id": [self.release_id],
            "release_group_id": [self.release_group_id],
            "artist_ids": [self.artist_id],
        }


def write_track(
    path: Path,
    kind: str = "flac",
    *,
    seconds: float = 1.0,
    seed: int = 0,
    tags: TrackTagsSpec | None = None,
) -> Path:
    """Write a real audio file of ``kind`` (see KINDS) at ``path`` and tag it."""
    if kind not in KINDS:
        raise ValueError(f"unknown track kind {kind!r} (expected one of {', '.join(KINDS)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = music(seconds, sample_rate=SAMPLE_RATE, seed=seed, rolloff_hz=20_000.0)
    if kind == "flac":
        sf.write(path, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    elif kind in ("mp3_320", "mp3_128"):
        path.write_bytes(encode_mp3(audio, SAMPLE_RATE, int(kind.split("_")[1])))
    else:
        lossy = decode(encode_mp3(audio, SAMPLE_RATE, 128))
        sf.write(path, lossy, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    if tags is not None:
        tag_file(path, tags.picard(), id3_version=4)
    return path

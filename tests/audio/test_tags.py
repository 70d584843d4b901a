"""Tags from every container, with Picard's MusicBrainz id layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from slskdn.audio.tags import read_tags
from slskdn.testing.signals import music
from slskdn.testing.tagging import PICARD_TAGS, tag_file

from .conftest import Analysed

TAGGED = {
    "tagged.flac": "vorbis",
    "tagged_id3v23.mp3": "id3v2.3",
    "tagged_id3v24.mp3": "id3v2.4",
    "tagged.ogg": "vorbis",
    "tagged.opus": "vorbis",
    "tagged.m4a": "mp4",
}


@pytest.mark.parametrize("name", sorted(TAGGED))
def test_every_container_yields_picard_tags(corpus: Analysed, name: str) -> None:
    tags = read_tags(corpus.files[name].path)
    assert tags.tag_format == TAGGED[name]
    assert tags.artist == "Test Artist feat. Guest"
    assert tags.albumartist == "Test Artist"
    assert tags.album == "Synthetic Sessions"
    assert tags.title == "Pink Noise Blues"
    assert (tags.track_number, tags.track_total) == (3, 12)
    assert (tags.disc_number, tags.disc_total) == (1, 2)
    assert tags.label == "Loopback Records"
    assert tags.release_id == PICARD_TAGS["release_id"][0]
    assert tags.release_group_id == PICARD_TAGS["release_group_id"][0]
    assert tags.artist_ids == tuple(PICARD_TAGS["artist_ids"])  # v2.3: joined with "/"
    assert tags.malformed_mbids == ()


@pytest.mark.parametrize("name", sorted(TAGGED))
def test_track_id_keys_are_read_as_the_recording_not_the_release_track(
    corpus: Analysed, name: str
) -> None:
    tags = read_tags(corpus.files[name].path)
    assert tags.recording_id == PICARD_TAGS["recording_id"][0]
    assert tags.release_track_id == PICARD_TAGS["release_track_id"][0]
    assert tags.recording_id != tags.release_track_id


def test_malformed_mbid_is_ignored_and_recorded(corpus: Analysed) -> None:
    tags = read_tags(corpus.files["tagged_bad_mbid.flac"].path)
    assert tags.release_group_id is None
    assert tags.malformed_mbids == ("release_group_id='not-a-uuid'",)
    assert tags.recording_id == PICARD_TAGS["recording_id"][0]  # the good ones survive
    problems = corpus.results["tagged_bad_mbid.flac"].problems
    assert any(p.startswith("malformed_mbid:") for p in problems)


def test_mbids_are_normalised_to_lowercase(tmp_path: Path) -> None:
    path = tmp_path / "upper.flac"
    sf.write(path, music(1.0), 44100, format="FLAC")
    upper = {**PICARD_TAGS, "recording_id": [PICARD_TAGS["recording_id"][0].upper()]}
    tag_file(path, upper)
    assert read_tags(path).recording_id == PICARD_TAGS["recording_id"][0]


def test_untagged_file_has_empty_tags(corpus: Analysed) -> None:
    tags = read_tags(corpus.files["genuine_0.flac"].path)
    assert tags.artist is None and tags.recording_id is None and tags.artist_ids == ()

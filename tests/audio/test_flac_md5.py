"""The FLAC STREAMINFO MD5 check used as the swarm's whole-file check for FLAC downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from slskdn.audio.flac_md5 import audio_md5_matches, decoded_md5, stored_md5
from slskdn.domain.swarm.integrity import WholeFileCheck
from slskdn.testing.signals import music


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_a_good_flac_decodes_to_the_md5_its_encoder_stored(tmp_path: Path, subtype: str) -> None:
    path = tmp_path / "good.flac"
    sf.write(path, music(2.0, seed=3), 44100, format="FLAC", subtype=subtype)
    assert stored_md5(path) == decoded_md5(path)
    assert audio_md5_matches(path) is True


def test_damaged_audio_frames_do_not_match(tmp_path: Path) -> None:
    path = tmp_path / "bad.flac"
    sf.write(path, music(2.0, seed=3), 44100, format="FLAC", subtype="PCM_16")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 4096):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    assert audio_md5_matches(path) is False


def test_a_file_that_is_not_flac_does_not_match(tmp_path: Path) -> None:
    path = tmp_path / "x.flac"
    path.write_bytes(b"not flac at all" * 100)
    assert audio_md5_matches(path) is False


def test_the_end_check_uses_the_content_check_once_per_content() -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        return len(calls) > 1  # wrong first, right after the refetch

    end = WholeFileCheck(None, content_check=check)
    assert end.has_reference
    assert end.passes("aa") is False
    assert end.passes("aa") is False  # same content: not decoded again
    assert end.passes("bb") is True
    assert len(calls) == 2
    assert WholeFileCheck(None).passes("aa") is None

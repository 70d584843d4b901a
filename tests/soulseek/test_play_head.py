"""The play head a player moves while the swarm fetches (``slskdn.soulseek.play_head``)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf

from slskdn.domain.candidates import CD_KBPS
from slskdn.domain.transfer_progress import KeptBytes
from slskdn.soulseek.play_head import HEAD_BYTES, PlayHead, part_file_kbps
from slskdn.testing.signals import music


def test_a_seek_in_seconds_is_a_byte_offset_at_the_bitrate_and_reaches_the_follower() -> None:
    head = PlayHead(1000.0)  # 125 000 bytes a second
    seen: list[int] = []
    assert head.seek(2.0) == 250_000 and seen == []  # nobody follows yet
    head.follow(seen.append)
    head.seek(4.5)
    head.seek_offset(1_000)
    head.follow(None)
    head.seek(1.0)
    assert seen == [562_500, 1_000]
    assert head.position == 125_000 and head.seconds == 1.0


@pytest.mark.parametrize("move", [lambda h: h.seek(-1.0), lambda h: h.seek_offset(-5)])
def test_a_position_before_the_start_is_refused(move: Callable[[PlayHead], int]) -> None:
    head = PlayHead(320.0)
    with pytest.raises(ValueError, match="≥ 0"):
        move(head)
    assert head.position == 0


def test_a_play_head_needs_a_positive_bitrate() -> None:
    with pytest.raises(ValueError, match="positive bitrate"):
        PlayHead(0.0)


def test_a_resumed_flac_plays_at_its_size_over_the_duration_its_kept_header_gives(
        tmp_path: Path) -> None:
    buf = io.BytesIO()
    sf.write(buf, music(3.0, sample_rate=44100, seed=3), 44100, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    part = tmp_path / "track.flac.part"
    part.write_bytes(data[:HEAD_BYTES] + bytes(len(data) - HEAD_BYTES))  # the rest not fetched
    kept = KeptBytes(len(data), received={"peer": [(0, HEAD_BYTES)]})
    assert part_file_kbps(part, len(data), kept) == len(data) * 8 / 1000 / 3.0
    # The header's bytes not kept (zeros on disk, or another copy's): the CD-audio guess.
    assert part_file_kbps(part, len(data), KeptBytes(len(data))) == CD_KBPS
    assert part_file_kbps(tmp_path / "gone.part", len(data), kept) == CD_KBPS

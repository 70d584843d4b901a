"""The play head a player moves while the swarm fetches (``slskdn.soulseek.play_head``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from slskdn.soulseek.play_head import PlayHead


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

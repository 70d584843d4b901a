"""The swarm's FLAC format check (``FlacFrameCheck``) over a part file: a stretch with no frame
header is judged once the file's frames were seen, and checked again when others sent it."""

from __future__ import annotations

import itertools

from slskdn.audio.flac_frames import MAX_HEADER, FrameScan
from slskdn.audio.frame_check import FlacFrameCheck
from tests.audio.test_flac_frames import Flac, encode


class PartFile:
    """The part file's bytes as assembled; a test swaps them as sources would."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, start: int, end: int) -> bytes:
        return self.data[start:end]


def zeroed(flac: Flac, start: int, end: int) -> bytes:
    return flac.data[:start] + bytes(end - start) + flac.data[end:]


def test_a_stretch_with_no_header_is_judged_only_past_frames_seen_elsewhere() -> None:
    flac = encode()
    s = flac.starts
    part = PartFile(zeroed(flac, s[2], s[12]))
    check = FlacFrameCheck(part.read)
    inside = s[2] + 5  # a stream that starts in the zeros is never synced

    assert check.scan(inside, s[12], synced=False) == FrameScan(inside, False, ())  # no layout
    check.scan(s[14], s[20], synced=True)  # another stream's frames, after the zeros
    assert check.scan(inside, s[12], synced=False) == FrameScan(inside, False, ())  # metadata?
    check.scan(s[0], s[2], synced=True)  # frames before it: these zeros are in the audio
    judged = check.scan(inside, s[12], synced=False)
    ((a, b),) = judged.bad
    longest = max(y - x for x, y in itertools.pairwise(s))
    assert a == inside and 2 * (longest + MAX_HEADER) < b - a <= s[12] - inside
    assert not judged.synced


def test_the_stretch_passes_once_someone_sent_frames_there_and_fails_while_it_is_junk() -> None:
    flac = encode()
    s = flac.starts
    part = PartFile(zeroed(flac, s[2], s[12]))
    check = FlacFrameCheck(part.read)
    check.scan(s[0], s[2], synced=True)
    inside = s[2] + 5
    ((_, end),) = check.scan(inside, s[12], synced=False).bad

    # The session takes a bad span's start for a frame start; here it is none.
    assert check.scan(inside, end + MAX_HEADER, synced=True) == FrameScan(
        inside, True, ((inside, end),))
    part.data = flac.data  # others sent the real bytes
    again = check.scan(inside, end + MAX_HEADER, synced=True)
    assert again.synced and not again.bad
    assert again.checked_to in s and inside < again.checked_to < end
    assert check.scan(inside, inside + 100, synced=True) == FrameScan(inside, True, ())  # short


def test_real_frames_are_never_taken_for_a_stretch_with_no_header() -> None:
    flac = encode(48000, "PCM_24")
    s = flac.starts
    check = FlacFrameCheck(PartFile(flac.data).read)
    check.scan(s[0], s[3], synced=True)
    for k in range(1, len(s) - 2, 3):
        for skew in (0, 1, 7, (s[k + 1] - s[k]) // 2):
            offset = s[k] + skew
            for end in (*range(offset + 500, s[k + 2], 2000), len(flac.data)):
                assert not check.scan(offset, end, synced=False).bad, (offset, end)


def test_the_short_last_frame_of_a_file_does_not_set_how_long_a_frame_can_be() -> None:
    # A fixed-blocksize stream's last frame holds the few samples left over: bounding every
    # frame by it would take honest frames for stretches with no header.
    flac = encode()
    s = flac.starts
    assert len(flac.data) - s[-1] < (s[1] - s[0]) // 4  # it is that short here
    check = FlacFrameCheck(PartFile(flac.data).read)
    check.scan(s[-1], len(flac.data), synced=True)  # a stream that fetched only the end
    check.scan(s[0], s[1] + MAX_HEADER, synced=True)  # and one from the first frame
    for k in range(1, len(s) - 2, 5):
        for end in range(s[k] + 1000, s[k + 2], 1000):  # as a stream's bytes arrive
            assert not check.scan(s[k] + 3, end, synced=False).bad, (k, end)

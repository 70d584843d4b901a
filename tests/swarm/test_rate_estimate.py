"""A source's rate is not judged from the first milliseconds of its stream.

On real sockets the first reads of a transfer drain what the network buffered during the
handshake: on the loopback benchmark a 2 MiB/s peer showed 54 MB/s over its first 2 ms. A
fast-looking first source then seemed to need nobody, and the peers that became ready next
were let go instead of taking part of its range.
"""

from __future__ import annotations

import pytest

from slskdn.domain.swarm.decisions import SOULSEEK, Release, Steal
from slskdn.domain.swarm.session import SwarmSession
from slskdn.domain.swarm.tracking import BURST_S, SourceRuntime, SourceSpec
from slskdn.simulation.content import MemoryPartFile

from .recording import RecordingTransport

KIB = 1024
SIZE = 50_000_000


def test_a_burst_at_the_start_of_a_stream_is_not_a_rate() -> None:
    src = SourceRuntime(SourceSpec("a", SOULSEEK))
    src.stream_started(0.0)
    src.record_bytes(256 * KIB, 0.002)  # 128 MiB/s, for 2 ms
    assert src.recent_rate(0.01) is None
    for i in range(1, 11):
        src.record_bytes(64 * KIB, 0.002 + i * 0.03)  # then ~2 MiB/s
    assert 0.002 + 0.03 < BURST_S < 0.002 + 0.06  # the first sample after the burst window
    assert src.recent_rate(0.302) == pytest.approx(64 * KIB / 0.03)  # ... measured from there
    assert src.delivered == 256 * KIB + 10 * 64 * KIB  # the burst's bytes still count


def test_the_next_ready_peer_splits_a_first_stream_that_started_with_a_burst() -> None:
    transport = RecordingTransport()
    specs = [SourceSpec(s, SOULSEEK) for s in ("first", "second")]  # nothing advertised
    session = SwarmSession(SIZE, specs, transport, MemoryPartFile(SIZE))
    session.start(0.0)
    session.on_ready("first", 0.020)
    (first_id, (_, start, end)), = transport.requests.items()
    assert (start, end) == (0, SIZE)
    session.on_progress(first_id, 0, (), 0.020)  # first byte
    session.on_progress(first_id, 128 * KIB, (), 0.021)
    session.on_progress(first_id, 256 * KIB, (), 0.022)  # 256 KiB in 2 ms
    session.on_ready("second", 0.036)
    decisions = [d for _, d in session.decisions]
    assert not [d for d in decisions if isinstance(d, Release)], decisions
    assert transport.released == []
    steals = [d for d in decisions if isinstance(d, Steal) and d.thief_id == "second"]
    assert steals, decisions
    # Two unknown peers: the second takes about half of what is left, not a sliver.
    assert SIZE - steals[0].new_end > 0.3 * SIZE

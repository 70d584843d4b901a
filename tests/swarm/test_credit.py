"""A stream's report credits it only with bytes that are its own on disk.

On real peers a stream skips bytes another stream wrote first. If those are then discarded (a
convicted liar's), the data path cuts the stream where they begin — but a report it sent
before the cut may still be on its way. Credited in full, it made an honest peer the owner of
the liar's junk, and its frame check convicted it (1 run in about 20 of
``test_a_peer_whose_copy_stops_being_flac_is_convicted_by_its_frames[runs-into-it]``)."""

from __future__ import annotations

from slskdn.domain.swarm.decisions import SOULSEEK
from slskdn.domain.swarm.range_map import ByteState
from slskdn.domain.swarm.session import SwarmSession
from slskdn.domain.swarm.tracking import SourceSpec
from slskdn.simulation.content import MemoryPartFile

from .recording import RecordingTransport

MIB = 1024 * 1024
SIZE = 4 * MIB


def streaming() -> tuple[SwarmSession, RecordingTransport, int]:
    transport = RecordingTransport()
    session = SwarmSession(SIZE, [SourceSpec("a", SOULSEEK)], transport, MemoryPartFile(SIZE))
    session.start(0.0)
    session.on_ready("a", 1.0)
    (request_id, _), = transport.requests.items()
    session.on_progress(request_id, MIB, (), 1.1)
    return session, transport, request_id


def test_a_report_sent_before_its_stream_was_cut_credits_it_only_up_to_the_cut() -> None:
    session, transport, request_id = streaming()
    transport.cuts[request_id] = MIB + MIB // 4
    session.on_progress(request_id, 2 * MIB, (), 1.2)

    assert session.transfers[request_id].position == MIB + MIB // 4
    assert session.range_map.segment_at(MIB).state == ByteState.RECEIVED
    assert session.range_map.segment_at(MIB + MIB // 4).state < ByteState.RECEIVED


def test_without_a_cut_a_report_credits_everything_it_covers() -> None:
    session, _, request_id = streaming()
    session.on_progress(request_id, 2 * MIB, (), 1.2)
    assert session.transfers[request_id].position == 2 * MIB

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from slskdn.domain.errors import DomainError, InvalidRange, InvalidTransition
from slskdn.domain.ids import new_id, peer_id
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALICE = str(peer_id("alice"))


def new_transfer(size: int = 1000) -> Transfer:
    transfer = Transfer.create(
        id=new_id(AT),
        at=AT,
        filename="a.flac",
        size_bytes=size,
        job_id=new_id(AT),
        recording_id="rec",
        variant_id="var",
    )
    transfer.add_sources(AT, [{"peer_id": ALICE, "username": "alice", "kind": "soulseek"}])
    return transfer


def test_range_events_carry_the_trace_fields() -> None:
    transfer = new_transfer()
    transfer.request_range(AT, ALICE, 0, 500)
    transfer.receive_range(AT, ALICE, 0, 500, duration_ms=120)
    received = transfer.collect_events()[-1]
    assert isinstance(received, Transfer.RangeReceived)
    assert (received.job_id, received.recording_id, received.variant_id) == (
        transfer.job_id,
        "rec",
        "var",
    )
    assert (received.peer_id, received.source_kind, received.offset, received.bytes) == (
        ALICE,
        "soulseek",
        0,
        500,
    )
    assert received.duration_ms == 120
    assert transfer.bytes_by_peer == {ALICE: 500}


def test_a_range_outside_the_file_is_refused() -> None:
    transfer = new_transfer(size=1000)
    with pytest.raises(InvalidRange, match="outside the file of 1000 bytes"):
        transfer.request_range(AT, ALICE, 900, 200)
    with pytest.raises(InvalidRange):
        transfer.receive_range(AT, ALICE, 0, 0, duration_ms=1)


def test_ranges_only_come_from_known_sources() -> None:
    transfer = new_transfer()
    with pytest.raises(DomainError, match="not a source"):
        transfer.request_range(AT, str(peer_id("mallory")), 0, 10)


def test_adding_a_known_source_again_records_nothing() -> None:
    transfer = new_transfer()
    transfer.collect_events()
    transfer.add_sources(AT, [{"peer_id": ALICE, "username": "alice", "kind": "soulseek"}])
    assert transfer.collect_events() == []


def test_a_completed_transfer_takes_no_more_ranges() -> None:
    transfer = new_transfer()
    transfer.complete(AT, sha256="ab" * 32)
    with pytest.raises(InvalidTransition):
        transfer.receive_range(AT, ALICE, 0, 10, duration_ms=1)


def test_rescue_mode_toggles_once_per_change() -> None:
    transfer = new_transfer()
    transfer.collect_events()
    transfer.activate_rescue(AT, "stalled")
    transfer.activate_rescue(AT, "stalled")
    transfer.deactivate_rescue(AT, "recovered")
    names = [type(e).__name__ for e in transfer.collect_events()]
    assert names == ["RescueActivated", "RescueDeactivated"]


def test_peer_observations_accumulate() -> None:
    peer = Peer.create(id=peer_id("bob"), at=AT, username="bob", source_kind="soulseek")
    peer.record_range_served(AT, bytes=100, duration_ms=10)
    peer.record_timeout(AT, waited_ms=30_000)
    peer.record_corrupt(AT, offset=0, length=100)
    assert (peer.bytes_served, peer.timeouts, peer.corrupt_ranges) == (100, 1, 1)
    with pytest.raises(DomainError):
        peer.record_range_served(AT, bytes=-1, duration_ms=1)

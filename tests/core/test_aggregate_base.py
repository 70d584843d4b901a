"""slskdn's aggregate base builds the very events eventsourcing would, only cheaper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import eventsourcing.domain as es
import pytest

from slskdn.domain.aggregate import Aggregate, _plan
from slskdn.domain.ids import peer_id
from slskdn.domain.job import Job
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _history() -> list[Any]:
    """The same commands every call: a job, a transfer with ranges, a peer."""
    job = Job.create(id=UUID(int=1), kind="release", target="mbid", at=AT)
    job.start(AT)
    job.add_track(AT + timedelta(seconds=1), "rec-1")
    transfer = Transfer.create(
        id=UUID(int=2), at=AT, filename="a.flac", size_bytes=1 << 20, job_id=job.id
    )
    source = str(peer_id("alice"))
    transfer.add_sources(AT, [{"peer_id": source, "username": "alice", "kind": "soulseek"}])
    transfer.request_range(AT, peer_id=source, offset=0, length=1024)
    transfer.receive_range(AT, peer_id=source, offset=0, length=1024, duration_ms=3)
    transfer.fail_range(AT, peer_id=source, offset=1024, error_code="reset", reason="closed")
    peer = Peer.create(id=peer_id("alice"), at=AT, username="alice", source_kind="soulseek")
    peer.record_range_served(AT, bytes=1024, duration_ms=3, transfer_id=transfer.id)
    return [job, transfer, peer]


def test_events_and_state_are_identical_to_eventsourcings_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = _history()
    monkeypatch.setattr(Aggregate, "trigger_event", es.Aggregate.trigger_event)
    stock = _history()
    for mine, theirs in zip(fast, stock, strict=True):
        mine_events, their_events = mine.collect_events(), theirs.collect_events()
        # Same classes, same fields in the same order (the order is the stored JSON's).
        assert [(type(e), list(vars(e))) for e in mine_events] == [
            (type(e), list(vars(e))) for e in their_events
        ]
        assert mine_events == their_events
        assert vars(mine) == vars(theirs)


def test_range_events_take_the_cheap_path() -> None:
    # If eventsourcing or dataclasses change shape, the fast path silently turns off:
    # this says so instead.
    assert _plan(Transfer.RangeReceived) == (
        "job_id", "recording_id", "variant_id", "peer_id", "source_kind", "offset",
        "bytes", "duration_ms", "error_code",
    )  # fmt: skip
    assert _plan(Peer.RangeServed) == ("transfer_id", "bytes", "duration_ms")


def test_a_wrong_event_field_fails_as_eventsourcing_says() -> None:
    transfer = Transfer.create(id=UUID(int=3), at=AT, filename="a", size_bytes=10)
    with pytest.raises(TypeError, match="Can't construct event"):
        transfer.trigger_event(Transfer.RangeVerified, offset=0, length=1, timestamp=AT)
    with pytest.raises(TypeError, match="Can't construct event"):
        transfer.trigger_event(Transfer.Completed, sha256="x", colour="red", timestamp=AT)
    with pytest.raises(TypeError, match="Can't construct event"):
        transfer.trigger_event(Transfer.Completed, colour="red", timestamp=AT)
    assert transfer.version == 1
    assert transfer.collect_events()[-1].__class__ is Transfer.Created

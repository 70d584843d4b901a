from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.errors import DomainError, InvalidTransition
from slskdn.domain.ids import new_id
from slskdn.domain.job import TRANSITIONS, Job, JobStatus

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def new_job(kind: str = "release") -> Job:
    return Job.create(id=new_id(AT), kind=kind, target="mbid", at=AT)


def test_a_job_runs_through_its_life_and_records_each_step() -> None:
    job = new_job()
    job.start(AT)
    job.add_track(AT, "rec-1", title="One")
    job.add_track(AT, "rec-2", title="Two")
    job.complete(AT)
    events = job.collect_events()
    assert [type(e).__name__ for e in events] == [
        "Created",
        "Started",
        "TrackAdded",
        "TrackAdded",
        "Completed",
    ]
    assert job.status == JobStatus.COMPLETED
    assert [t["position"] for t in job.tracks] == [1, 2]


def test_event_timestamps_are_the_time_passed_in() -> None:
    job = new_job()
    job.start(AT)
    assert {e.timestamp for e in job.collect_events()} == {AT}


def test_a_finished_job_refuses_commands_and_stays_unchanged() -> None:
    job = new_job()
    job.cancel(AT, "not wanted")
    version = job.version
    with pytest.raises(InvalidTransition, match="cancelled"):
        job.start(AT)
    with pytest.raises(InvalidTransition):
        job.add_track(AT, "rec")
    assert job.version == version
    assert job.reason == "not wanted"


def test_an_unknown_kind_is_refused_with_the_choices() -> None:
    with pytest.raises(DomainError, match="release, discography"):
        Job.create(id=new_id(AT), kind="album", target="x", at=AT)


commands = st.lists(st.sampled_from(["start", "complete", "fail", "cancel"]), max_size=8)


@given(commands)
def test_status_only_moves_along_the_transition_table(steps: list[str]) -> None:
    job = new_job()
    for step in steps:
        before = job.status
        try:
            if step in ("fail", "cancel"):
                getattr(job, step)(AT, "why")
            else:
                getattr(job, step)(AT)
        except InvalidTransition:
            assert job.status == before
        else:
            assert job.status in TRANSITIONS[before]

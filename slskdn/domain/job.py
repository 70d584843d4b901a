"""The Job aggregate: a user's request (a release, a discography, a label crate, a track).

Its life is a small state machine: created → running → completed | failed | cancelled;
a job can also be failed or cancelled before it starts. Commands check the table below
and raise InvalidTransition without touching state.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from slskdn.domain.aggregate import Aggregate
from slskdn.domain.errors import DomainError, InvalidTransition


class JobKind(StrEnum):
    RELEASE = "release"
    DISCOGRAPHY = "discography"
    LABEL_CRATE = "label_crate"
    TRACK = "track"


class JobStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.CREATED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class Job(Aggregate):
    """One download request and the tracks it expands to."""

    class Created(Aggregate.Created):
        kind: str
        target: str
        title: str
        origin: str
        options: dict[str, Any]

        # v1 had no ``origin``; every v1 job was created from the CLI. v2 had no ``options``
        # (how a request asked for its target: search window, playback...): the defaults.
        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["origin"] = "cli"

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["options"] = {}

    class Started(Aggregate.Event):
        def apply(self, job: Job) -> None:
            job.status = JobStatus.RUNNING

    class TrackAdded(Aggregate.Event):
        recording_id: str
        title: str
        position: int
        transfer_id: UUID | None

        def apply(self, job: Job) -> None:
            job.tracks.append(
                {
                    "recording_id": self.recording_id,
                    "title": self.title,
                    "position": self.position,
                    "transfer_id": self.transfer_id,
                }
            )

    class Completed(Aggregate.Event):
        def apply(self, job: Job) -> None:
            job.status = JobStatus.COMPLETED

    class Failed(Aggregate.Event):
        reason: str

        def apply(self, job: Job) -> None:
            job.status = JobStatus.FAILED
            job.reason = self.reason

    class Cancelled(Aggregate.Event):
        reason: str

        def apply(self, job: Job) -> None:
            job.status = JobStatus.CANCELLED
            job.reason = self.reason

    def __init__(self, kind: str, target: str, title: str, origin: str,
                 options: dict[str, Any]) -> None:
        self.kind = JobKind(kind)
        self.target = target
        self.title = title
        self.origin = origin
        self.options = dict(options)
        self.status = JobStatus.CREATED
        self.reason = ""
        self.tracks: list[dict[str, Any]] = []

    @classmethod
    def create(
        cls, *, id: UUID, kind: str, target: str, at: datetime, title: str = "",
        origin: str = "cli", options: dict[str, Any] | None = None,
    ) -> Job:
        try:
            JobKind(kind)
        except ValueError:
            choices = ", ".join(k.value for k in JobKind)
            raise DomainError(f"unknown job kind {kind!r} (expected one of: {choices})") from None
        if not target:
            raise DomainError("a job needs a target (an MBID, a query or a path)")
        return cls._create(
            cls.Created, id=id, kind=kind, target=target, title=title, origin=origin,
            options=dict(options or {}), timestamp=at,
        )

    def start(self, at: datetime) -> None:
        self._check_can_become(JobStatus.RUNNING)
        self.trigger_event(self.Started, timestamp=at)

    def add_track(
        self, at: datetime, recording_id: str, title: str = "", transfer_id: UUID | None = None
    ) -> None:
        if self.status not in (JobStatus.CREATED, JobStatus.RUNNING):
            raise InvalidTransition(f"cannot add a track to a {self.status} job")
        self.trigger_event(
            self.TrackAdded,
            recording_id=recording_id,
            title=title,
            position=len(self.tracks) + 1,
            transfer_id=transfer_id,
            timestamp=at,
        )

    def complete(self, at: datetime) -> None:
        self._check_can_become(JobStatus.COMPLETED)
        self.trigger_event(self.Completed, timestamp=at)

    def fail(self, at: datetime, reason: str) -> None:
        self._check_can_become(JobStatus.FAILED)
        self.trigger_event(self.Failed, reason=reason, timestamp=at)

    def cancel(self, at: datetime, reason: str = "cancelled by user") -> None:
        self._check_can_become(JobStatus.CANCELLED)
        self.trigger_event(self.Cancelled, reason=reason, timestamp=at)

    def _check_can_become(self, status: JobStatus) -> None:
        if status not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"job is {self.status}; it cannot become {status}")

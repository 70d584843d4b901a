"""The HealthIssue aggregate: one problem Collection Doctor found, and what became of it.

Identity is the problem, not the scan: the id is derived from a stable key ("suspected
transcode of this file", "track 3 of disc 1 of this release is missing"), so a later scan
that finds the same problem meets the same issue.

    open ──ignore──► ignored ──resolve──► resolved
      │  ╲                                   │
      │   resolve ──────────────────────────►│
      │                                      ▼
      └─ cause gone ──► closed ◄── cause gone
    resolved / closed ── found again ──► open (Reraised)

An ignored issue stays ignored whatever later scans find: the user decided about it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from slskdn.domain.errors import DomainError, InvalidTransition

ISSUE_NAMESPACE = uuid.UUID("8d7f3a10-5b2e-4c61-9f08-3e4d2a1b0c97")
STATUSES = ("open", "ignored", "resolved", "closed")


def issue_id(key: str) -> uuid.UUID:
    return uuid.uuid5(ISSUE_NAMESPACE, key)


class HealthIssue(Aggregate):
    """A problem of the library, with its lifecycle."""

    class Raised(Aggregate.Created):
        kind: str
        key: str
        severity: str
        path: str
        reason: str
        subject: dict[str, Any]
        details: dict[str, Any]

    class Updated(Aggregate.Event):
        severity: str
        reason: str
        details: dict[str, Any]

        def apply(self, issue: HealthIssue) -> None:
            issue.severity, issue.reason, issue.details = self.severity, self.reason, self.details

    class Ignored(Aggregate.Event):
        reason: str

        def apply(self, issue: HealthIssue) -> None:
            issue.status = "ignored"
            issue.note = self.reason

    class Resolved(Aggregate.Event):
        reason: str

        def apply(self, issue: HealthIssue) -> None:
            issue.status = "resolved"
            issue.note = self.reason

    class Reraised(Aggregate.Event):
        severity: str
        reason: str
        details: dict[str, Any]

        def apply(self, issue: HealthIssue) -> None:
            issue.status = "open"
            issue.severity, issue.reason, issue.details = self.severity, self.reason, self.details
            issue.times_raised += 1

    class Closed(Aggregate.Event):
        reason: str

        def apply(self, issue: HealthIssue) -> None:
            issue.status = "closed"
            issue.note = self.reason

    class LinkedToJob(Aggregate.Event):
        job_id: uuid.UUID

        def apply(self, issue: HealthIssue) -> None:
            issue.job_id = self.job_id

    def __init__(
        self,
        kind: str,
        key: str,
        severity: str,
        path: str,
        reason: str,
        subject: dict[str, Any],
        details: dict[str, Any],
    ) -> None:
        self.kind, self.key, self.severity = kind, key, severity
        self.path, self.reason = path, reason
        self.subject, self.details = subject, details
        self.status = "open"
        self.note = ""
        self.times_raised = 1
        self.job_id: uuid.UUID | None = None

    @classmethod
    def raise_issue(
        cls,
        *,
        id: uuid.UUID,
        at: datetime,
        kind: str,
        key: str,
        severity: str,
        path: str,
        reason: str,
        subject: dict[str, Any],
        details: dict[str, Any],
    ) -> HealthIssue:
        if id != issue_id(key):
            raise DomainError(f"issue id {id} does not belong to key {key!r}")
        return cls._create(
            cls.Raised,
            id=id,
            kind=kind,
            key=key,
            severity=severity,
            path=path,
            reason=reason,
            subject=subject,
            details=details,
            timestamp=at,
        )

    def observe(self, at: datetime, severity: str, reason: str, details: dict[str, Any]) -> None:
        """A scan found this problem (again)."""
        if self.status in ("resolved", "closed"):
            self.trigger_event(
                self.Reraised, severity=severity, reason=reason, details=details, timestamp=at
            )
        elif self.status == "open" and (severity, reason, details) != (
            self.severity,
            self.reason,
            self.details,
        ):
            self.trigger_event(
                self.Updated, severity=severity, reason=reason, details=details, timestamp=at
            )

    def cause_gone(self, at: datetime) -> None:
        """A scan of this issue's scope no longer finds the problem."""
        if self.status in ("open", "resolved"):
            self.trigger_event(self.Closed, reason="cause gone", timestamp=at)

    def ignore(self, at: datetime, reason: str = "ignored by user") -> None:
        if self.status != "open":
            raise InvalidTransition(f"only an open issue can be ignored; this one is {self.status}")
        self.trigger_event(self.Ignored, reason=reason, timestamp=at)

    def resolve(self, at: datetime, reason: str = "resolved by user") -> None:
        if self.status not in ("open", "ignored"):
            raise InvalidTransition(f"this issue is already {self.status}")
        self.trigger_event(self.Resolved, reason=reason, timestamp=at)

    def link_job(self, at: datetime, job_id: uuid.UUID) -> None:
        if self.job_id != job_id:
            self.trigger_event(self.LinkedToJob, job_id=job_id, timestamp=at)

"""The pure parts: diagnosis rules and the issue lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.diagnosis import (
    DurationTolerance,
    LocalFile,
    ReleaseTrack,
    ReleaseTracklist,
    diagnose,
)
from slskdn.domain.errors import InvalidTransition
from slskdn.domain.health_issue import HealthIssue, issue_id

AT = datetime(2026, 11, 21, tzinfo=UTC)


def tracklist(n: int) -> ReleaseTracklist:
    tracks = tuple(
        ReleaseTrack(1, i, f"T{i}", 200_000, f"rec{i}", f"trk{i}") for i in range(1, n + 1)
    )
    return ReleaseTracklist("rel", "Album", "grp", tracks)


def local(n: int, **kw: object) -> LocalFile:
    base = dict(
        file_id=f"f{n}", path=f"/m/{n:02d}.flac", status="ok", recording_id=f"rec{n}",
        release_id="rel", track_number=n, disc_number=1, duration_ms=200_000,
        codec="flac", lossless=True, sample_rate=44_100, bit_depth=16, quality_score=1.0,
    )  # fmt: skip
    base.update(kw)
    return LocalFile(**base)  # type: ignore[arg-type]


def test_a_complete_release_with_good_files_has_no_findings() -> None:
    assert diagnose([local(1), local(2)], {"rel": tracklist(2)}) == []


def test_a_file_with_a_different_recording_does_not_count_as_its_position() -> None:
    findings = diagnose([local(1), local(2, recording_id="elsewhere")], {"rel": tracklist(2)})
    assert sorted(f.kind for f in findings) == [
        "missing_track_in_release",
        "track_not_in_tagged_release",
    ]


def test_untagged_recordings_are_matched_by_position() -> None:
    assert diagnose([local(1), local(2, recording_id=None)], {"rel": tracklist(2)}) == []


@pytest.mark.parametrize(
    ("expected", "actual", "off"),
    [(200_000, 209_999, False), (200_000, 210_001, True), (200_000, 189_000, True),
     (60_000, 64_999, False), (60_000, 65_001, True)],
)  # fmt: skip
def test_duration_tolerance_is_the_larger_of_five_seconds_and_five_percent(
    expected: int, actual: int, off: bool
) -> None:
    assert DurationTolerance().off(expected, actual) is off


statuses = st.lists(st.sampled_from(["observe", "gone", "ignore", "resolve"]), max_size=10)


@given(statuses)
def test_an_ignored_issue_stays_ignored_until_the_user_resolves_it(steps: list[str]) -> None:
    issue = HealthIssue.raise_issue(
        id=issue_id("k"), at=AT, kind="unreadable", key="k", severity="high", path="/m/x",
        reason="r", subject={}, details={},
    )  # fmt: skip
    for step in steps:
        before = issue.status
        try:
            {
                "observe": lambda: issue.observe(AT, "high", "r", {}),
                "gone": lambda: issue.cause_gone(AT),
                "ignore": lambda: issue.ignore(AT),
                "resolve": lambda: issue.resolve(AT),
            }[step]()
        except InvalidTransition:
            assert issue.status == before
            continue
        if before == "ignored" and step in ("observe", "gone"):
            assert issue.status == "ignored"
        if step == "observe":
            assert issue.status in ("open", "ignored")

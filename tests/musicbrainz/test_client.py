"""The client on the real musicbrainzngs against the loopback server: parsing, paging, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from slskdn.musicbrainz.client import MusicBrainzClient, RateLimiter, RetryPolicy
from slskdn.musicbrainz.errors import (
    InvalidMbid,
    MalformedResponse,
    MusicBrainzUnavailable,
    NotFound,
)
from tests.musicbrainz import synthetic as S
from tests.musicbrainz.conftest import CONTACT, FakeClock
from tests.musicbrainz.server import FakeMusicBrainz, Fault, Seen

SEA_OF_COWARDS = "8eb2b179-643d-3507-b64c-29fcc6745156"
URK = "fe29e7f0-eb46-44ba-9348-694166f47885"
BORED_BORED = "a81f3c15-2f36-47c7-9b0f-f684a8b0530f"
RUINED_SUBJECTS = "833d4c3a-2635-4b7a-83c4-4e560588f23a"
SUZUKI = "fbe4490e-e366-4da2-a37a-82162d2f41a9"
TECHPARA = "212895ca-ee36-439a-a824-d2620cd10461"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


# Tracklists from real responses -----------------------------------------------------


def test_tracklist_keeps_pregap_positions_lengths_and_ids(
    client: MusicBrainzClient, shared_fixtures: Path
) -> None:
    tracklist = client.get_release(SEA_OF_COWARDS)

    assert (tracklist.title, tracklist.date, tracklist.country) == (
        "Sea of Cowards",
        "2010-05-10",
        "GB",
    )
    (medium,) = tracklist.media
    assert medium.position == 1
    assert [t.position for t in medium.tracks] == list(range(12))  # pregap is position 0
    pregap, first = medium.tracks[0], medium.tracks[1]
    assert pregap.track_id == "ac0c0731-9776-4550-a621-90f9504be55c"
    assert pregap.recording_id == "b29b1ef2-2add-4f4d-8f9d-c134f6f0a442"
    assert (pregap.number, pregap.length_ms) == ("0", 35000)
    assert first.track_id == "94928c4c-5cd9-3a3e-b72f-6d0bc8023c9c"
    assert first.recording_id == "4f16eff1-0df6-4d94-89ba-e1470bc7b61f"
    assert (first.title, first.number, first.length_ms) == ("Blue Blood Blues", "1", 202306)
    # The track's own title wins over the recording's when the two differ.
    assert medium.tracks[4].title == "I'm Mad"
    assert medium.tracks[-1].recording_id == "8136b0af-5202-42b9-b1d4-6befbc0532d5"


def test_tracklist_with_three_media(client: MusicBrainzClient, shared_fixtures: Path) -> None:
    tracklist = client.get_release(URK)

    assert [m.position for m in tracklist.media] == [1, 2, 3]
    assert [len(m.tracks) for m in tracklist.media] == [14, 15, 19]
    last = tracklist.media[2].tracks[-1]
    assert (last.position, last.title, last.length_ms) == (19, "Telephone Songs", 168000)
    assert last.track_id == "3dd1e3d5-e7fb-3d24-b800-f90761da4405"
    assert last.recording_id == "a85cb82b-f9cf-448a-8fe1-f6a0a02cd867"


def test_tracklist_without_lengths_or_track_ids(
    client: MusicBrainzClient, shared_fixtures: Path
) -> None:
    bored = client.get_release(BORED_BORED)
    assert [(t.number, t.length_ms, t.track_id) for t in bored.media[0].tracks] == [
        ("A", None, None),
        ("B", None, None),
    ]
    ruined = client.get_release(RUINED_SUBJECTS).media[0].tracks
    assert len(ruined) == 21 and all(t.track_id is None for t in ruined)
    assert ruined[6].title == "In the Clounds"  # track title, not the recording's "The"


def test_track_length_prefers_track_over_recording(
    client: MusicBrainzClient, shared_fixtures: Path
) -> None:
    suzuki = client.get_release(SUZUKI)
    assert suzuki.date is None
    assert suzuki.media[0].tracks[-1].length_ms == 388760  # recording says 389000


def test_empty_track_number_is_kept_empty(client: MusicBrainzClient, shared_fixtures: Path) -> None:
    first = client.get_release(TECHPARA).media[0].tracks[0]
    assert (first.position, first.number, first.title) == (1, "", "[intro]")


def test_lookup_parses_labels_release_group_and_format(client: MusicBrainzClient) -> None:
    tracklist = client.get_release(S.R_EP)

    assert tracklist.release_group_id == S.RG_EP
    assert [(c.label_id, c.name, c.catalog_number) for c in tracklist.labels] == [
        (S.LABEL, "Synthetic Records", "SYN-EP1")
    ]
    (medium,) = tracklist.media
    assert medium.format == '12" Vinyl'
    assert [t.track_id for t in medium.tracks] == list(S.TRACK)
    assert [t.recording_id for t in medium.tracks] == list(S.REC)
    # No <length> on the track: the recording's length is used; neither: None.
    assert [t.length_ms for t in medium.tracks] == [201000, 185500, 240000, None]


def test_release_without_media(client: MusicBrainzClient) -> None:
    tracklist = client.get_release(S.R_NOMEDIA)
    assert tracklist.media == ()
    assert tracklist.track_count == 0
    assert tracklist.title == "Lost Tapes"


def test_lookup_asks_for_the_documented_includes(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    client.get_release(S.R_EP)
    (seen,) = fake_mb.requests
    assert seen.path == f"/ws/2/release/{S.R_EP}"
    assert set(seen.query["inc"].split(" ")) == {
        "recordings",
        "labels",
        "release-groups",
        "artist-credits",
        "media",
    }


def test_user_agent_names_slskdn_version_and_contact(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    client.get_release(S.R_EP)
    agent = fake_mb.requests[0].user_agent
    assert agent.startswith("slskdn/")
    assert CONTACT in agent


# Paging -------------------------------------------------------------------------------


def test_browse_pages_by_offset_until_the_count(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    artist = "11111111-1111-4111-8111-111111111111"
    expected = fake_mb.generate_release_groups(artist, 250)

    groups = client.browse_release_groups(artist)

    assert [g.id for g in groups] == expected
    assert [s.offset for s in fake_mb.requests] == [0, 100, 200]
    assert {s.query["limit"] for s in fake_mb.requests} == {"100"}
    assert groups[0].primary_type == "Album" and groups[0].title == "Generated 0"


def test_huge_artist_is_paged_completely(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz, clock: FakeClock
) -> None:
    artist = "22222222-2222-4222-8222-222222222222"
    expected = fake_mb.generate_release_groups(artist, 3_456)
    progress: list[tuple[int, int]] = []

    groups = client.browse_release_groups(artist, progress=lambda _w, n, t: progress.append((n, t)))

    assert len(groups) == 3_456 and [g.id for g in groups] == expected
    assert fake_mb.count() == 35
    assert progress[-1] == (3_456, 3_456) and len(progress) == 35
    assert sum(clock.sleeps) >= 34  # the limiter spaced all 35 pages


def test_browse_releases_by_label_and_release_group(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    group = "33333333-3333-4333-8333-333333333333"
    expected = fake_mb.generate_releases("release-group", group, 101)

    found = client.browse_releases(release_group=group)

    assert [r.id for r in found] == expected
    assert found[3].track_count == 4 and found[3].formats == ("CD",)
    assert fake_mb.requests[0].query["release-group"] == group
    assert set(fake_mb.requests[0].query["inc"].split(" ")) == {"labels", "media", "release-groups"}
    label = client.browse_releases(label=S.LABEL)
    assert {r.id for r in label} == {S.R_DEBUT_US, S.R_SECOND_DE, S.R_EP, S.R_OTHER}


def test_browse_parses_release_groups_and_releases(client: MusicBrainzClient) -> None:
    groups = {g.id: g for g in client.browse_release_groups(S.ARTIST)}
    releases = {r.id: r for r in client.browse_releases(artist=S.ARTIST)}

    assert groups[S.RG_LIVE].primary_type == "Album"
    assert groups[S.RG_LIVE].secondary_types == ("Live",)
    assert groups[S.RG_UNRELEASED].first_release_date is None
    debut = releases[S.R_DEBUT_US]
    assert (debut.status, debut.country, debut.date) == ("Official", "US", "1999-03-01")
    assert debut.release_group_id == S.RG_DEBUT
    assert [(c.label_id, c.catalog_number) for c in debut.labels] == [(S.LABEL, "SYN-001")]
    third = releases[S.R_THIRD_A]
    assert (third.medium_count, third.track_count, third.media_complete) == (2, 10, False)


def test_browse_of_an_unknown_artist_is_not_found(client: MusicBrainzClient) -> None:
    with pytest.raises(NotFound, match=UNKNOWN) as caught:
        client.browse_release_groups(UNKNOWN)
    assert caught.value.entity == "artist"


# Errors and retries -------------------------------------------------------------------


def test_malformed_mbid_is_refused_before_any_request(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    for bad in ("not-an-id", "8eb2b179-643d-3507-b64c-29fcc674515", "", "8eb2b179643d3507b64c"):
        with pytest.raises(InvalidMbid, match="not a MusicBrainz"):
            client.get_release(bad)
    with pytest.raises(InvalidMbid):
        client.browse_release_groups("x' OR 1=1")
    with pytest.raises(InvalidMbid):
        client.browse_releases(label="nope")
    assert fake_mb.count() == 0


def test_uppercase_and_url_mbids_are_accepted(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    assert client.get_release(S.R_EP.upper()).release_id == S.R_EP
    url = f"https://musicbrainz.org/release/{S.R_EP}"
    assert client.get_release(url).release_id == S.R_EP


def test_unknown_release_is_not_found_and_names_the_id(client: MusicBrainzClient) -> None:
    with pytest.raises(NotFound, match=f"release with id {UNKNOWN}"):
        client.get_release(UNKNOWN)


def test_503_is_retried_with_backoff_then_succeeds(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz, clock: FakeClock
) -> None:
    fake_mb.fail_next(2, status=503)

    tracklist = client.get_release(S.R_EP)

    assert tracklist.release_id == S.R_EP
    assert fake_mb.count() == 3
    # Backoff 1 s then 2 s; the limiter's own spacing is already covered by them.
    assert clock.sleeps[:1] == [1.0] and 2.0 in clock.sleeps


def test_retry_after_header_is_honoured(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz, clock: FakeClock
) -> None:
    fake_mb.fail_next(1, status=503, retry_after="7")
    client.get_release(S.R_EP)
    assert clock.sleeps[0] == 7.0


def test_retries_are_bounded_then_unavailable(
    fake_mb: FakeMusicBrainz, limiter: RateLimiter, clock: FakeClock
) -> None:
    client = MusicBrainzClient(
        fake_mb.base_url,
        limiter=limiter,
        sleep=clock.sleep,
        retry=RetryPolicy(attempts=3, base_delay_s=1.0),
    )
    fake_mb.fail_next(10, status=503)

    with pytest.raises(MusicBrainzUnavailable, match=r"HTTP 503; 3 attempts"):
        client.get_release(S.R_EP)
    assert fake_mb.count() == 3


def test_other_http_errors_are_not_retried(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    fake_mb.fail_next(1, status=400)
    with pytest.raises(MusicBrainzUnavailable, match="HTTP 400"):
        client.get_release(S.R_EP)
    assert fake_mb.count() == 1


def test_unreachable_server_is_unavailable(closed_port_url: str, clock: FakeClock) -> None:
    client = MusicBrainzClient(
        closed_port_url,
        limiter=RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep),
        sleep=clock.sleep,
    )
    with pytest.raises(MusicBrainzUnavailable, match="cannot reach MusicBrainz") as caught:
        client.get_release(S.R_EP)
    assert "refused" in str(caught.value).lower()
    assert [s for s in clock.sleeps if s in (1.0, 2.0, 4.0)] == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    "fault",
    [
        Fault(truncate=True),
        Fault(body=b""),
        Fault(body=b"<html><body>Bad gateway, try later</body></html>"),
    ],
    ids=["truncated", "empty", "html"],
)
def test_malformed_lookup_is_a_clear_error(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz, fault: Fault
) -> None:
    fake_mb.add_fault(fault)
    with pytest.raises(MalformedResponse, match="release"):
        client.get_release(S.R_EP)


def test_malformed_browse_page_is_a_clear_error(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz
) -> None:
    artist = "44444444-4444-4444-8444-444444444444"
    fake_mb.generate_release_groups(artist, 250)
    fake_mb.add_fault(Fault(truncate=True, match=lambda seen: seen.offset == 200))
    with pytest.raises(MalformedResponse):
        client.browse_release_groups(artist)


def test_two_clients_on_different_servers_do_not_mix(
    client: MusicBrainzClient, fake_mb: FakeMusicBrainz, limiter: RateLimiter, clock: FakeClock
) -> None:
    other = FakeMusicBrainz()
    other.start()
    try:
        second = MusicBrainzClient(other.base_url, limiter=limiter, sleep=clock.sleep)
        client.get_release(S.R_EP)
        second.get_release(S.R_EP)
        client.get_release(S.R_EP)
    finally:
        other.stop()
    assert (fake_mb.count(), other.count()) == (2, 1)


def test_recorded_requests_are_plain(fake_mb: FakeMusicBrainz) -> None:
    # The fake's own bookkeeping, which the other tests rely on.
    seen = Seen("/ws/2/release-group", {"offset": "200"}, "ua")
    assert seen.offset == 200 and fake_mb.count() == 0


def test_base_url_is_checked() -> None:
    assert MusicBrainzClient("https://musicbrainz.org/").base_url == "https://musicbrainz.org/"
    for bad in ("ftp://musicbrainz.org", "https://mirror.example/mb", "http://"):
        with pytest.raises(ValueError, match="base_url"):
            MusicBrainzClient(bad)

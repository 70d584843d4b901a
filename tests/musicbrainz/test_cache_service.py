"""The cache and the service over it: TTL, refresh, all-or-nothing writes, stale fallback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from slskdn.musicbrainz import cache as tables
from slskdn.musicbrainz.cache import MusicBrainzCache
from slskdn.musicbrainz.client import MusicBrainzClient, RateLimiter, RetryPolicy
from slskdn.musicbrainz.errors import MalformedResponse, MusicBrainzUnavailable, NotFound
from slskdn.musicbrainz.service import MusicBrainzService
from tests.musicbrainz import synthetic as S
from tests.musicbrainz.conftest import FakeClock, WallClock
from tests.musicbrainz.server import FakeMusicBrainz, Fault

BIG_ARTIST = "55555555-5555-4555-8555-555555555555"
URK = "fe29e7f0-eb46-44ba-9348-694166f47885"


def rows(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def offline_service(
    engine: sa.Engine, url: str, wall: WallClock, clock: FakeClock
) -> MusicBrainzService:
    """A second service on the same database whose MusicBrainz cannot be reached."""
    client = MusicBrainzClient(
        url,
        limiter=RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep),
        sleep=clock.sleep,
        retry=RetryPolicy(attempts=2),
    )
    return MusicBrainzService(client, MusicBrainzCache(engine), now=wall)


# TTL ------------------------------------------------------------------------------------


def test_fresh_cache_makes_no_request(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz
) -> None:
    first = service.artist_graph(S.ARTIST)
    asked = fake_mb.count()
    assert not first.from_cache and asked == 2  # one page of groups, one of releases

    second = service.artist_graph(S.ARTIST)

    assert fake_mb.count() == asked
    assert second.from_cache and not second.stale
    assert second.fetched_at == first.fetched_at
    assert len(second.value.release_groups) == 11 and len(second.value.releases) == 16


def test_expired_cache_asks_again(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz, wall: WallClock
) -> None:
    first = service.artist_graph(S.ARTIST)
    wall.advance(timedelta(days=29, hours=23))
    service.artist_graph(S.ARTIST)
    assert fake_mb.count() == 2

    wall.advance(timedelta(hours=2))  # now past 30 days
    again = service.artist_graph(S.ARTIST)

    assert fake_mb.count() == 4
    assert not again.from_cache and again.fetched_at > first.fetched_at


def test_refresh_asks_even_when_fresh(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz
) -> None:
    service.release(S.R_EP)
    service.release(S.R_EP)
    assert fake_mb.count() == 1
    refreshed = service.release(S.R_EP, refresh=True)
    assert fake_mb.count() == 2 and not refreshed.from_cache


def test_cached_values_equal_fetched_values(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz, shared_fixtures: Path
) -> None:
    for release_id in (URK, S.R_EP, S.R_NOMEDIA):
        fetched = service.release(release_id)
        cached = service.release(release_id)
        assert cached.from_cache and cached.value == fetched.value
    graph = service.artist_graph(S.ARTIST).value
    cached_graph = service.artist_graph(S.ARTIST).value
    assert sorted(cached_graph.release_groups, key=lambda g: g.id) == sorted(
        graph.release_groups, key=lambda g: g.id
    )
    assert sorted(cached_graph.releases, key=lambda r: r.id) == sorted(
        graph.releases, key=lambda r: r.id
    )
    labels = service.label_releases(S.LABEL)
    assert service.label_releases(S.LABEL).value == tuple(
        sorted(labels.value, key=lambda lr: lr.release.id)
    )


def test_label_releases_carry_their_catalogue_numbers(service: MusicBrainzService) -> None:
    found = {lr.release.id: lr.catalog_numbers for lr in service.label_releases(S.LABEL).value}
    assert found == {
        S.R_DEBUT_US: ("SYN-001",),
        S.R_SECOND_DE: ("SYN-014",),
        S.R_EP: ("SYN-EP1",),
        S.R_OTHER: ("SYN-007",),
    }


# All or nothing ---------------------------------------------------------------------------


def test_fetch_failing_on_page_three_writes_nothing(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz, engine: sa.Engine
) -> None:
    fake_mb.generate_release_groups(BIG_ARTIST, 500)
    fake_mb.add_fault(Fault(status=503, times=None, match=lambda seen: seen.offset == 200))

    with pytest.raises(MusicBrainzUnavailable):
        service.artist_graph(BIG_ARTIST)

    assert [s.offset for s in fake_mb.requests][:3] == [0, 100, 200]
    for table in (tables.artist_fetches, tables.release_groups, tables.releases):
        assert rows(engine, table) == 0


def test_failed_refresh_leaves_the_previous_fetch_whole(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz, engine: sa.Engine
) -> None:
    fake_mb.generate_release_groups(BIG_ARTIST, 250)
    fake_mb.generate_releases("artist", BIG_ARTIST, 10)
    before = service.artist_graph(BIG_ARTIST)
    fake_mb.generate_release_groups(BIG_ARTIST, 300)
    fake_mb.add_fault(Fault(truncate=True, match=lambda seen: seen.offset == 200))

    with pytest.raises(MalformedResponse):
        service.artist_graph(BIG_ARTIST, refresh=True)

    after = service.artist_graph(BIG_ARTIST)
    assert after.from_cache and after.fetched_at == before.fetched_at
    assert len(after.value.release_groups) == 250 and rows(engine, tables.release_groups) == 250


def test_refresh_replaces_rows_instead_of_adding(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz, engine: sa.Engine
) -> None:
    fake_mb.generate_release_groups(BIG_ARTIST, 250)
    fake_mb.generate_releases("artist", BIG_ARTIST, 120)
    service.artist_graph(BIG_ARTIST)
    fake_mb.generate_release_groups(BIG_ARTIST, 40)
    fake_mb.generate_releases("artist", BIG_ARTIST, 3)

    graph = service.artist_graph(BIG_ARTIST, refresh=True).value

    assert (len(graph.release_groups), len(graph.releases)) == (40, 3)
    assert rows(engine, tables.release_groups) == 40 and rows(engine, tables.releases) == 3


def test_malformed_release_writes_nothing(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz, engine: sa.Engine
) -> None:
    fake_mb.add_fault(Fault(truncate=True))
    with pytest.raises(MalformedResponse):
        service.release(S.R_EP)
    for table in (tables.tracklists, tables.media, tables.tracks):
        assert rows(engine, table) == 0


def test_tracks_are_stored_one_row_each(
    service: MusicBrainzService, engine: sa.Engine, shared_fixtures: Path
) -> None:
    service.release(URK)
    assert rows(engine, tables.media) == 3
    assert rows(engine, tables.tracks) == 14 + 15 + 19


# Unreachable ------------------------------------------------------------------------------


def test_unreachable_serves_stale_cache_with_a_flag(
    service: MusicBrainzService,
    engine: sa.Engine,
    wall: WallClock,
    clock: FakeClock,
    closed_port_url: str,
) -> None:
    graph = service.artist_graph(S.ARTIST)
    tracklist = service.release(S.R_EP)
    labels = service.label_releases(S.LABEL)
    wall.advance(timedelta(days=90))
    offline = offline_service(engine, closed_port_url, wall, clock)

    stale_graph = offline.artist_graph(S.ARTIST)
    stale_release = offline.release(S.R_EP)
    stale_labels = offline.label_releases(S.LABEL)

    assert stale_graph.stale and stale_graph.from_cache
    assert stale_graph.fetched_at == graph.fetched_at
    assert len(stale_graph.value.releases) == len(graph.value.releases)
    assert stale_release.stale and stale_release.value == tracklist.value
    assert stale_labels.stale and len(stale_labels.value) == len(labels.value)


def test_refresh_while_unreachable_serves_fresh_cache_as_stale(
    service: MusicBrainzService,
    engine: sa.Engine,
    wall: WallClock,
    clock: FakeClock,
    closed_port_url: str,
) -> None:
    service.release(S.R_EP)
    offline = offline_service(engine, closed_port_url, wall, clock)
    served = offline.release(S.R_EP, refresh=True)
    assert served.stale and served.value.release_id == S.R_EP


def test_unreachable_without_cache_raises(
    engine: sa.Engine, wall: WallClock, clock: FakeClock, closed_port_url: str
) -> None:
    offline = offline_service(engine, closed_port_url, wall, clock)
    with pytest.raises(MusicBrainzUnavailable, match="cannot reach MusicBrainz"):
        offline.release(S.R_EP)
    assert rows(engine, tables.tracklists) == 0


def test_not_found_is_never_hidden_by_the_cache(
    service: MusicBrainzService, fake_mb: FakeMusicBrainz, wall: WallClock
) -> None:
    service.release(S.R_EP)
    wall.advance(timedelta(days=31))
    fake_mb.fail_next(1, status=404)
    with pytest.raises(NotFound):
        service.release(S.R_EP)

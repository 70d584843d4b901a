"""MusicBrainz data for the rest of slskdn: the cache first, the web service when needed.

Each call follows the same rule:

- a cached copy younger than the TTL is returned without a request (unless ``refresh``);
- otherwise MusicBrainz is asked, and the complete answer is stored in one transaction;
- if MusicBrainz cannot be reached and a cached copy exists, however old, it is returned
  with ``stale=True``; without a copy, MusicBrainzUnavailable propagates.

NotFound and MalformedResponse always propagate: serving an old copy of an id that
MusicBrainz now says does not exist, or hiding a broken server, would mislead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa

from slskdn.config import MusicBrainzSettings
from slskdn.domain.discography import Entry, Profile, ProfileOptions, discography
from slskdn.logs import get_logger
from slskdn.musicbrainz.cache import MusicBrainzCache
from slskdn.musicbrainz.client import (
    MusicBrainzClient,
    Progress,
    RateLimiter,
    RetryPolicy,
    process_limiter,
)
from slskdn.musicbrainz.errors import MusicBrainzUnavailable, parse_mbid
from slskdn.musicbrainz.model import ArtistGraph, Fetched, LabelRelease, Release, Tracklist

log = get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Discography:
    artist_id: str
    profile: Profile
    entries: tuple[Entry, ...]


def utc_now() -> datetime:
    return datetime.now(UTC)


class MusicBrainzService:
    """Artist graphs, tracklists, label releases and discographies, cached."""

    def __init__(
        self,
        client: MusicBrainzClient,
        cache: MusicBrainzCache,
        *,
        ttl: timedelta = timedelta(days=30),
        now: Callable[[], datetime] = utc_now,
        preferred_countries: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.cache = cache
        self.ttl = ttl
        self._now = now
        self.preferred_countries = preferred_countries

    @classmethod
    def from_settings(
        cls,
        settings: MusicBrainzSettings,
        engine: sa.Engine,
        *,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] = utc_now,
        retry: RetryPolicy | None = None,
    ) -> MusicBrainzService:
        """Wire client and cache from the ``musicbrainz`` config section.

        ``limiter``/``sleep``/``now`` exist for tests; production uses the process limiter.
        """
        limiter = limiter or process_limiter(settings.requests_per_second)
        client = MusicBrainzClient(
            settings.base_url,
            settings.contact,
            limiter=limiter,
            retry=retry or RetryPolicy(attempts=settings.max_attempts),
            sleep=sleep,
            timeout_s=settings.timeout_s,
        )
        return cls(
            client,
            MusicBrainzCache(engine),
            ttl=timedelta(days=settings.cache_ttl_days),
            now=now,
            preferred_countries=tuple(settings.preferred_countries),
        )

    def artist_graph(
        self, artist_id: str, refresh: bool = False, progress: Progress | None = None
    ) -> Fetched[ArtistGraph]:
        """All release groups and releases of an artist."""
        key = parse_mbid(artist_id, "artist")

        def fetch() -> ArtistGraph:
            groups = self.client.browse_release_groups(key, progress=progress)
            releases = self.client.browse_releases(artist=key, progress=progress)
            return ArtistGraph(key, tuple(groups), tuple(releases))

        return self._serve(
            "artist", key, refresh, self.cache.artist_graph, fetch, self.cache.store_artist_graph
        )

    def release(self, release_id: str, refresh: bool = False) -> Fetched[Tracklist]:
        """A release's tracklist."""
        key = parse_mbid(release_id, "release")
        return self._serve(
            "release",
            key,
            refresh,
            self.cache.tracklist,
            lambda: self.client.get_release(key),
            self.cache.store_tracklist,
        )

    def label_releases(
        self, label_id: str, refresh: bool = False, progress: Progress | None = None
    ) -> Fetched[tuple[LabelRelease, ...]]:
        """Every release of a label, with its catalogue numbers on that label."""
        key = parse_mbid(label_id, "label")

        def fetch() -> tuple[Release, ...]:
            return tuple(self.client.browse_releases(label=key, progress=progress))

        fetched = self._serve(
            "label",
            key,
            refresh,
            self.cache.label_releases,
            fetch,
            lambda found, at: self.cache.store_label_releases(key, found, at),
        )
        value = tuple(LabelRelease.of(key, r) for r in fetched.value)
        return Fetched(value, fetched.fetched_at, fetched.from_cache, fetched.stale)

    def discography(
        self,
        artist_id: str,
        profile: Profile = Profile.CORE,
        refresh: bool = False,
        *,
        core_includes_live: bool = False,
        core_includes_compilations: bool = False,
        progress: Progress | None = None,
    ) -> Fetched[Discography]:
        """The artist's discography under ``profile`` (see slskdn.domain.discography)."""
        graph = self.artist_graph(artist_id, refresh, progress)
        options = ProfileOptions(
            core_includes_live=core_includes_live,
            core_includes_compilations=core_includes_compilations,
            preferred_countries=self.preferred_countries,
        )
        entries = discography(graph.value.release_groups, graph.value.releases, profile, options)
        value = Discography(graph.value.artist_id, profile, entries)
        return Fetched(value, graph.fetched_at, graph.from_cache, graph.stale)

    def _serve(
        self,
        kind: str,
        key: str,
        refresh: bool,
        load: Callable[[str], tuple[T, datetime] | None],
        fetch: Callable[[], T],
        store: Callable[[T, datetime], None],
    ) -> Fetched[T]:
        cached = load(key)
        now = self._now()
        if cached is not None and not refresh and now - cached[1] < self.ttl:
            log.debug("mb.cache_hit", kind=kind, mbid=key, fetched_at=cached[1].isoformat())
            return Fetched(cached[0], cached[1], from_cache=True)
        try:
            value = fetch()
        except MusicBrainzUnavailable as exc:
            if cached is None:
                raise
            log.warning(
                "mb.serving_stale",
                kind=kind,
                mbid=key,
                fetched_at=cached[1].isoformat(),
                reason=str(exc),
            )
            return Fetched(cached[0], cached[1], from_cache=True, stale=True)
        store(value, now)
        log.info("mb.fetched", kind=kind, mbid=key, refresh=refresh)
        return Fetched(value, now, from_cache=False)

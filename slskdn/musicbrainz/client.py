"""The MusicBrainz web-service client: musicbrainzngs behind one lock, our limiter and retries.

musicbrainzngs keeps everything in module globals (host, scheme, user agent, parser, its
rate limiter) and retries inside ``_safe_read`` with real sleeps that bypass any limiter.
So this module:

- holds ``_MB_LOCK`` around every call and re-applies this client's host and user agent
  inside it, so two clients with different servers in one process (tests, a daemon plus
  a CLI command) cannot see each other's settings;
- disables the library's limiter (``set_rate_limit(False)``: its arithmetic is wrong for
  non-default values, upstream issue #294) and spaces requests with ``RateLimiter``, one
  per process (``process_limiter``), taken inside the lock so waiting threads cannot bunch;
- sets its parser to ``_parse_xml``, which turns every parse failure into one error;
- replaces ``musicbrainzngs.musicbrainz._safe_read`` with a single-attempt reader that
  has a timeout and reports HTTP status and network failures as they are, so retries,
  backoff and their sleeps are ours, bounded and injectable. The library is pinned to
  0.7.1 in pyproject.toml for this reason.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import musicbrainzngs
import musicbrainzngs.musicbrainz as mb_internals
from musicbrainzngs import mbxml

from slskdn import __version__
from slskdn.logs import get_logger
from slskdn.musicbrainz import parse
from slskdn.musicbrainz.errors import (
    MalformedResponse,
    MusicBrainzUnavailable,
    NotFound,
    parse_mbid,
)
from slskdn.musicbrainz.model import Release, ReleaseGroup, Tracklist

log = get_logger(__name__)

T = TypeVar("T")
Progress = Callable[[str, int, int], None]
"""Called after each browse page with (what, items so far, total)."""

PAGE_SIZE = 100  # the largest page MusicBrainz serves
# A browse that never reaches its count (the server keeps growing the count) must end.
MAX_PAGES = 2_000
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
RELEASE_INCLUDES = ["recordings", "labels", "release-groups", "artist-credits", "media"]
BROWSE_RELEASE_INCLUDES = ["labels", "media", "release-groups"]

_MB_LOCK = threading.RLock()
_timeout_s = 30.0  # read by _read_once; set under _MB_LOCK by the calling client


class RateLimiter:
    """Spaces calls at least ``min_interval_s`` apart. Thread-safe.

    ``clock`` and ``sleep`` are injectable so tests can count the waiting without doing it.
    """

    def __init__(
        self,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._sleep = sleep
        self._next_at: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next call may start; return the seconds slept."""
        with self._lock:
            now = self._clock()
            slept = 0.0
            if self._next_at is not None and now < self._next_at:
                slept = self._next_at - now
                self._sleep(slept)
                now = self._clock()
            self._next_at = max(now, self._next_at or now) + self.min_interval_s
            return slept

    def slow_down_to(self, min_interval_s: float) -> None:
        """Raise the interval (never lower it: another user of the process may need it)."""
        with self._lock:
            self.min_interval_s = max(self.min_interval_s, min_interval_s)


_PROCESS_LIMITER = RateLimiter(1.0)


def process_limiter(requests_per_second: float = 1.0) -> RateLimiter:
    """The one limiter every client of this process shares (MusicBrainz limits per IP)."""
    _PROCESS_LIMITER.slow_down_to(1.0 / min(requests_per_second, 1.0))
    return _PROCESS_LIMITER


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff: delays base, 2·base, 4·base… capped at max_delay_s."""

    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay(self, failed_attempt: int, retry_after_s: float | None = None) -> float:
        backoff = self.base_delay_s * 2 ** (failed_attempt - 1)
        return min(self.max_delay_s, max(backoff, retry_after_s or 0.0))


class _HttpStatus(Exception):
    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after_s = _seconds(retry_after)


class _NetworkFailure(Exception):
    pass


class _Unparseable(Exception):
    pass


def _parse_xml(body: bytes) -> dict[str, Any]:
    """The library's XML parser, with every failure reported as one error.

    ``mbxml`` raises ParseError on truncated XML but ValueError, KeyError and friends
    on well-formed XML that is not mmd-2.0 (an HTML error page from a proxy).
    """
    try:
        result: dict[str, Any] = mbxml.parse_message(body)
    except Exception as exc:
        raise _Unparseable(f"{type(exc).__name__}: {exc}") from None
    return result


def _read_once(opener: Any, req: Any, body: Any = None, **_library_retry_args: Any) -> bytes:
    """Stand-in for musicbrainzngs' ``_safe_read``: one attempt, with a timeout."""
    try:
        response = opener.open(req, body, timeout=_timeout_s)
        with response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _HttpStatus(exc.code, exc.headers.get("Retry-After")) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _NetworkFailure(str(reason) or type(exc).__name__) from None


class MusicBrainzClient:
    """Typed calls to the MusicBrainz web service (XML, ``/ws/2``).

    Every method checks its MBID first (InvalidMbid, no request), then raises NotFound,
    MusicBrainzUnavailable or MalformedResponse; it never returns musicbrainzngs data.
    """

    def __init__(
        self,
        base_url: str = "https://musicbrainz.org",
        contact: str = "",
        *,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"musicbrainz.base_url {base_url!r} is not an http(s) URL")
        if parts.path.strip("/") or parts.query:
            # musicbrainzngs always requests <host>/ws/2/...; a sub-path cannot be honoured.
            raise ValueError(
                f"musicbrainz.base_url {base_url!r} must be scheme://host[:port] without a path"
            )
        self.base_url = base_url
        # musicbrainzngs wants "host[:port]" and always appends /ws/2 itself.
        self._host = parts.netloc.rsplit("@", 1)[-1]
        self._https = parts.scheme == "https"
        self._contact = contact or None
        self._limiter = limiter or process_limiter()
        self._retry = retry or RetryPolicy()
        self._sleep = sleep or time.sleep
        self._timeout_s = timeout_s

    def get_release(self, release_id: str) -> Tracklist:
        """A release with its media, tracks, labels and release group."""
        mbid = parse_mbid(release_id, "release")
        result = self._request(
            "release", mbid, musicbrainzngs.get_release_by_id, mbid, includes=RELEASE_INCLUDES
        )
        return parse.tracklist(result)

    def browse_release_groups(
        self, artist_id: str, progress: Progress | None = None
    ) -> list[ReleaseGroup]:
        """Every release group of an artist, all pages."""
        mbid = parse_mbid(artist_id, "artist")
        raws = self._browse_all(
            "release-group", "artist", mbid, musicbrainzngs.browse_release_groups, progress
        )
        return [parse.release_group(raw) for raw in raws]

    def browse_releases(
        self,
        *,
        artist: str | None = None,
        release_group: str | None = None,
        label: str | None = None,
        progress: Progress | None = None,
    ) -> list[Release]:
        """Every release of exactly one of artist / release group / label, all pages."""
        given = {
            k: v
            for k, v in (("artist", artist), ("release_group", release_group), ("label", label))
            if v is not None
        }
        if len(given) != 1:
            raise TypeError("browse_releases needs exactly one of artist, release_group, label")
        ((by, value),) = given.items()
        mbid = parse_mbid(value, by.replace("_", " "))
        raws = self._browse_all(
            "release",
            by,
            mbid,
            musicbrainzngs.browse_releases,
            progress,
            includes=BROWSE_RELEASE_INCLUDES,
        )
        return [parse.release(raw) for raw in raws]

    def _browse_all(
        self,
        entity: str,
        by: str,
        mbid: str,
        call: Callable[..., dict[str, Any]],
        progress: Progress | None,
        **kwargs: Any,
    ) -> list[Mapping[str, Any]]:
        """Fetch pages of ``PAGE_SIZE`` by offset until MusicBrainz's count is reached."""
        items: list[Mapping[str, Any]] = []
        seen: set[str] = set()
        offset, count, pages = 0, 1, 0
        while offset < count:
            if pages == MAX_PAGES:
                raise MalformedResponse(
                    f"browse of {entity}s by {by} {mbid} did not reach its count "
                    f"in {MAX_PAGES} pages"
                )
            result = self._request(
                by.replace("_", "-"),
                mbid,
                call,
                **{by: mbid},
                limit=PAGE_SIZE,
                offset=offset,
                **kwargs,
            )
            pages += 1
            page, count = parse.browse_page(result, entity)
            if not page:
                break  # the count overstated what exists; stop instead of looping
            for raw in page:
                # An edit between two pages can shift an item onto the next page.
                if raw.get("id") not in seen:
                    seen.add(raw.get("id", ""))
                    items.append(raw)
            offset += len(page)
            if progress:
                progress(entity, len(items), count)
        if len(items) < count:
            log.warning(
                "mb.browse_short", entity=entity, by=by, mbid=mbid, received=len(items), count=count
            )
        return items

    def _request(
        self, entity: str, mbid: str, call: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """One logical request: limiter, bounded retries with backoff, errors translated."""
        last = "no attempt made"
        for attempt in range(1, self._retry.attempts + 1):
            retry_after: float | None = None
            try:
                return self._attempt(call, *args, **kwargs)
            except _HttpStatus as exc:
                if exc.status == 404:
                    raise NotFound(entity, mbid) from None
                if exc.status not in RETRYABLE_STATUS:
                    raise MusicBrainzUnavailable(
                        f"MusicBrainz at {self.base_url} answered HTTP {exc.status} "
                        f"for {entity} {mbid}"
                    ) from None
                last, retry_after = f"HTTP {exc.status}", exc.retry_after_s
            except _NetworkFailure as exc:
                last = str(exc)
            except _Unparseable as exc:
                raise MalformedResponse(
                    f"MusicBrainz sent an unreadable answer for {entity} {mbid}: {exc}"
                ) from None
            if attempt < self._retry.attempts:
                delay = self._retry.delay(attempt, retry_after)
                log.info(
                    "mb.retry",
                    entity=entity,
                    mbid=mbid,
                    attempt=attempt,
                    reason=last,
                    delay_s=delay,
                )
                self._sleep(delay)
        raise MusicBrainzUnavailable(
            f"cannot reach MusicBrainz at {self.base_url} ({last}; {self._retry.attempts} attempts)"
        )

    def _attempt(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        global _timeout_s
        with _MB_LOCK:
            self._limiter.wait()
            musicbrainzngs.set_hostname(self._host, use_https=self._https)
            musicbrainzngs.set_useragent("slskdn", __version__, self._contact)
            musicbrainzngs.set_rate_limit(False)
            musicbrainzngs.set_format("xml")
            musicbrainzngs.set_parser(_parse_xml)
            mb_internals._safe_read = _read_once
            _timeout_s = self._timeout_s
            return call(*args, **kwargs)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP-date Retry-After; our own backoff applies

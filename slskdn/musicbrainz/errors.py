"""Errors of the MusicBrainz adapter, and the MBID check that runs before any request."""

from __future__ import annotations

import re

# A MusicBrainz id is a lower-case UUID; MB also serves entity URLs that end in one.
_MBID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MB_URL = re.compile(r"^https?://(?:[a-z0-9-]+\.)?musicbrainz\.org/[a-z-]+/(?P<id>[^/?#]+)/?$")


class MusicBrainzError(Exception):
    """Base of every error this package raises; the message is meant for people."""


class InvalidMbid(MusicBrainzError, ValueError):
    """The text is not a MusicBrainz id (a UUID). Raised before any request is made."""


class NotFound(MusicBrainzError):
    """MusicBrainz answered 404 for an id."""

    def __init__(self, entity: str, mbid: str) -> None:
        super().__init__(f"MusicBrainz has no {entity} with id {mbid}")
        self.entity = entity
        self.mbid = mbid


class MusicBrainzUnavailable(MusicBrainzError):
    """MusicBrainz could not be reached, or kept failing after the bounded retries."""


class MalformedResponse(MusicBrainzError):
    """MusicBrainz answered, but the body is not a usable mmd-2.0 document."""


def parse_mbid(text: str, entity: str = "entity") -> str:
    """Return the canonical (lower-case) MBID in ``text`` or raise InvalidMbid.

    Accepts a bare UUID or a musicbrainz.org URL ending in one, because that is what
    people copy from the website.
    """
    candidate = text.strip()
    url = _MB_URL.match(candidate.lower())
    if url:
        candidate = url.group("id")
    candidate = candidate.lower()
    if not _MBID.fullmatch(candidate):
        raise InvalidMbid(f"{text!r} is not a MusicBrainz {entity} id (expected a UUID)")
    return candidate

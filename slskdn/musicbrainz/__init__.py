"""MusicBrainz adapter: web-service client, ``mb_*`` cache tables, and the service over both.

Only this package imports musicbrainzngs; everything it returns is a plain dataclass
from ``slskdn.musicbrainz.model``.
"""

from slskdn.musicbrainz.errors import (
    InvalidMbid,
    MalformedResponse,
    MusicBrainzError,
    MusicBrainzUnavailable,
    NotFound,
    parse_mbid,
)

__all__ = [
    "InvalidMbid",
    "MalformedResponse",
    "MusicBrainzError",
    "MusicBrainzUnavailable",
    "NotFound",
    "parse_mbid",
]

"""What a user can ask the download service for, checked before anything starts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from pydantic import BaseModel, Field, model_validator

# A peer's file is ``soulseek:USER:PATH``, what every version wrote and reads: the username
# ends at the first colon (a path may hold colons). A username that holds one itself is
# written percent-encoded under a kind of its own, which older targets never used, so both
# forms read back exactly.
PEER_FILE = "soulseek"
PEER_FILE_ENCODED = "soulseek-encoded"


class DownloadRequest(BaseModel):
    """A peer's file (``username`` + ``path``), or search words (``query``)."""

    model_config = {"extra": "forbid", "frozen": True}

    username: str | None = Field(default=None, min_length=1)
    path: str | None = Field(default=None, min_length=1)
    query: str | None = Field(default=None, min_length=1)
    multi_source: bool = True
    window: float = Field(default=5.0, gt=0, le=120, description="seconds of search")
    play: bool = Field(default=False, description="playback mode: the bytes a player needs "
                       "next first (move the play head with POST .../play-position)")

    @model_validator(mode="after")
    def _one_kind(self) -> DownloadRequest:
        by_file = self.username is not None and self.path is not None
        if by_file == (self.query is not None) or (
            (self.username is None) != (self.path is None)
        ):
            raise ValueError("give username and path, or query (not both)")
        return self

    @property
    def target(self) -> str:
        """The job's target, in the words of the request."""
        if self.query is not None:
            return f"query:{self.query}"
        assert self.username is not None
        if ":" in self.username:
            return f"{PEER_FILE_ENCODED}:{quote(self.username, safe='')}:{self.path}"
        return f"{PEER_FILE}:{self.username}:{self.path}"

    @property
    def options(self) -> dict[str, Any]:
        """How it asks for its target, beyond the target itself: recorded with the job."""
        return self.model_dump(include=set(OPTIONS))

    @classmethod
    def from_target(cls, target: str,
                    options: Mapping[str, Any] | None = None) -> DownloadRequest | None:
        """The request back from a job's target and ``options`` (jobs recorded before options
        were have none: the defaults); None when it is not a request's target. Options that
        are not a request's raise ``ValueError`` naming them."""
        kept = dict(options or {})
        unknown = sorted(set(kept) - set(OPTIONS))
        if unknown:
            raise ValueError(f"unknown request options {', '.join(unknown)}")
        kind, _, rest = target.partition(":")
        if kind == "query" and rest:
            return cls(query=rest, **kept)
        username, _, path = rest.partition(":")
        if kind == PEER_FILE_ENCODED:
            username = unquote(username)
        elif kind != PEER_FILE:
            return None
        if username and path:
            return cls(username=username, path=path, **kept)
        return None


OPTIONS = ("multi_source", "window", "play")


class PlayPosition(BaseModel):
    """Where the player is: ``seconds`` into the audio, or a byte ``offset``."""

    model_config = {"extra": "forbid", "frozen": True}

    seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    offset: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> PlayPosition:
        if (self.seconds is None) == (self.offset is None):
            raise ValueError("give seconds or offset (one of them)")
        return self


class SearchRequest(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    query: str = Field(min_length=1)
    window: float = Field(default=5.0, gt=0, le=120)
    probe: bool = False  # probe the best groups: split copies that differ

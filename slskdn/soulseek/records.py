"""Plain records the session hands out: search results, browsed files, session events.

aioslsk's types stop here: everything below is a frozen dataclass of builtins, safe to put in
an actor message or a domain event.
"""

from __future__ import annotations

from dataclasses import dataclass

from aioslsk.protocol.primitives import Attribute, AttributeKey, DirectoryData, FileData


@dataclass(frozen=True)
class SearchResult:
    """One file in one peer's reply to a search."""

    username: str
    path: str  # the remote path, exactly as the peer sent it (untrusted)
    size: int
    bitrate: int | None  # kbps, when the peer sent it
    duration: int | None  # seconds, when the peer sent it
    free_slot: bool
    queue_length: int
    speed: int  # the peer's average upload speed as it reports it (bytes/s)
    sample_rate: int | None = None  # Hz, when the peer sent it (aioslsk: lossless files)
    bit_depth: int | None = None  # bits, when the peer sent it (aioslsk: lossless files)


@dataclass(frozen=True)
class SharedFile:
    """One file in a peer's shares (browse)."""

    username: str
    path: str
    size: int
    bitrate: int | None
    duration: int | None


@dataclass(frozen=True)
class LoggedIn:
    username: str


@dataclass(frozen=True)
class LoggedOut:
    username: str
    reason: str


@dataclass(frozen=True)
class PeerStatusChanged:
    username: str
    status: str  # "online", "away", "offline"


@dataclass(frozen=True)
class SearchResultsReceived:
    ticket: int  # the search request's ticket
    query: str
    results: tuple[SearchResult, ...]


SessionEvent = LoggedIn | LoggedOut | PeerStatusChanged | SearchResultsReceived


def _attribute(attributes: list[Attribute], key: AttributeKey) -> int | None:
    for attribute in attributes:
        if attribute.key == key.value:
            return int(attribute.value)
    return None


def search_results(username: str, files: list[FileData], *, free_slot: bool,
                   queue_length: int, speed: int) -> tuple[SearchResult, ...]:
    return tuple(
        SearchResult(username=username, path=f.filename, size=f.filesize,
                     bitrate=_attribute(f.attributes, AttributeKey.BITRATE),
                     duration=_attribute(f.attributes, AttributeKey.DURATION),
                     free_slot=free_slot, queue_length=queue_length, speed=speed,
                     sample_rate=_attribute(f.attributes, AttributeKey.SAMPLE_RATE),
                     bit_depth=_attribute(f.attributes, AttributeKey.BIT_DEPTH))
        for f in files)


def shared_files(username: str, directories: list[DirectoryData]) -> list[SharedFile]:
    return [
        SharedFile(username=username, path=f"{d.name}\\{f.filename}", size=f.filesize,
                   bitrate=_attribute(f.attributes, AttributeKey.BITRATE),
                   duration=_attribute(f.attributes, AttributeKey.DURATION))
        for d in directories for f in d.files]

"""Candidates: search results grouped into copies of the same file. Pure.

Copies of one file share a name (compared case-insensitively, directories ignored) and an
exact size; the probe of the first 32 KiB that confirms them byte-for-byte happens later,
over the network. Groups with more sources come first (a swarm needs sources), then the
faster total advertised speed, then the name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Offer:
    """One peer offering one file (the plain form of a search result)."""

    username: str
    path: str
    size: int
    speed: int = 0
    free_slot: bool = True
    queue_length: int = 0
    bitrate: int | None = None


@dataclass(frozen=True)
class CandidateGroup:
    name: str
    size: int
    offers: tuple[Offer, ...]

    @property
    def sources(self) -> int:
        return len({o.username for o in self.offers})

    @property
    def total_speed(self) -> int:
        return sum(o.speed for o in self.offers)


def file_name(path: str) -> str:
    """The last component of a Soulseek path (either separator)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def group_offers(offers: Iterable[Offer]) -> list[CandidateGroup]:
    groups: dict[tuple[str, int], list[Offer]] = {}
    for offer in offers:
        groups.setdefault((file_name(offer.path).casefold(), offer.size), []).append(offer)
    result = []
    for (_, size), members in groups.items():
        # One offer per peer: a peer listing the file twice is still one source.
        by_user: dict[str, Offer] = {}
        for o in sorted(members, key=lambda o: (o.queue_length, -o.speed, o.path)):
            by_user.setdefault(o.username, o)
        chosen = tuple(sorted(by_user.values(), key=lambda o: (-o.speed, o.username)))
        result.append(CandidateGroup(file_name(chosen[0].path), size, chosen))
    result.sort(key=lambda g: (-g.sources, -g.total_speed, g.name.casefold(), g.size))
    return result

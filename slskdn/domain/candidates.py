"""Candidates: search results grouped into copies of the same file. Pure.

Copies of one file share a name (compared case-insensitively, directories ignored) and an
exact size (``group_offers``). Probes then hash two ranges of each copy
(``domain.candidate_probes``) and split a group whose copies differ into *confirmed* groups
of byte-identical probes; offers not probed, or whose probe failed, stay in an unconfirmed
group of their own, ranked after every confirmed one and never a download source.

Order of groups (``rank_groups``), best first:

1. confirmed before unconfirmed;
2. the canonical order (``domain.canonical``) of the file as the search results describe it:
   extension → codec and lossless, bitrate bucket (lossy) or sample rate and bit depth
   (lossless) from the peers' attributes. Files that are not audio come after every audio
   file and tie with each other;
3. more sources (a swarm needs sources), then the faster total advertised speed;
4. the name, size and probe digests, so the order is total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from slskdn.domain.canonical import LOSSY_BUCKETS_KBPS, Variant, canonical_order
from slskdn.domain.quality import QualityEvidence, quality_score


@dataclass(frozen=True)
class Offer:
    """One peer offering one file (the plain form of a search result)."""

    username: str
    path: str
    size: int
    speed: int = 0
    free_slot: bool = True
    queue_length: int = 0
    bitrate: int | None = None  # kbps, as the peer's attributes say (lossy files)
    sample_rate: int | None = None  # Hz (lossless files)
    bit_depth: int | None = None  # bits (lossless files)
    duration: int | None = None  # seconds, as the peer's attributes say

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.username, self.path, self.size)


@dataclass(frozen=True)
class CandidateGroup:
    """Offers of one file. ``digests`` (the probe's SHA-256 of each probed range) is set when
    every offer's probe returned exactly those bytes; ``failures`` are (username, reason) of
    offers in an unconfirmed group whose probe failed."""

    name: str
    size: int
    offers: tuple[Offer, ...]
    digests: tuple[str, ...] | None = None
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def confirmed(self) -> bool:
        return self.digests is not None

    @property
    def sources(self) -> int:
        return len({o.username for o in self.offers})

    @property
    def total_speed(self) -> int:
        return sum(o.speed for o in self.offers)

    @property
    def file_key(self) -> tuple[str, int]:
        """What all copies of the file share: the case-folded name and the size."""
        return (self.name.casefold(), self.size)


def file_name(path: str) -> str:
    """The last component of a Soulseek path (either separator)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def group_offers(offers: Iterable[Offer]) -> list[CandidateGroup]:
    """Unconfirmed groups of one name and size, one offer per peer, best group first."""
    groups: dict[tuple[str, int], list[Offer]] = {}
    for offer in offers:
        groups.setdefault((file_name(offer.path).casefold(), offer.size), []).append(offer)
    result = []
    for (_, size), members in groups.items():
        # One offer per peer: a peer listing the file twice is still one source.
        by_user: dict[str, Offer] = {}
        for o in sorted(members, key=lambda o: (o.queue_length, -o.speed, o.path)):
            by_user.setdefault(o.username, o)
        chosen = order_offers(by_user.values())
        result.append(CandidateGroup(file_name(chosen[0].path), size, chosen))
    return rank_groups(result)


def order_offers(offers: Iterable[Offer]) -> tuple[Offer, ...]:
    """Fastest advertised speed first (the order sources are listed in)."""
    return tuple(sorted(offers, key=lambda o: (-o.speed, o.username, o.path)))


# --- quality of a file as search results describe it ------------------------------------------

# extension → (codec, lossless), as the quality policy names codecs.
AUDIO_EXTENSIONS: dict[str, tuple[str, bool]] = {
    "flac": ("flac", True), "wav": ("pcm", True), "aif": ("pcm", True),
    "aiff": ("pcm", True), "ape": ("ape", True), "wv": ("wavpack", True),
    "mp3": ("mp3", False), "ogg": ("vorbis", False), "oga": ("vorbis", False),
    "opus": ("opus", False), "m4a": ("aac", False), "aac": ("aac", False),
    "wma": ("wma", False), "mp2": ("mp2", False),
}  # fmt: skip
# An .m4a is AAC or ALAC; aioslsk (and Nicotine+) report a bitrate for both. ALAC runs at
# 400–1400 kbps, AAC at ≤ 320 kbps, so a high bitrate means the lossless codec.
ALAC_MIN_KBPS = 400
DEFAULT_SAMPLE_RATE = 44_100  # what a file is taken to be when no peer says


def offer_variant(
    name: str, bitrate: int | None, sample_rate: int | None, bit_depth: int | None
) -> Variant | None:
    """The canonical ``Variant`` a search result describes, or None when it is not audio.

    Nothing is measured yet, so nobody is a transcode suspect and the quality score is the
    format's (``quality.quality_score`` without spectrum). Lossy bitrates are bucketed (a VBR
    average of 245 kbps is the 256k class) so that two honest encodes of one class tie and
    sources decide; a lossless file's bitrate says nothing about quality and is dropped.
    """
    ext = name.rsplit(".", 1)[-1].casefold() if "." in name else ""
    if ext not in AUDIO_EXTENSIONS:
        return None
    codec, lossless = AUDIO_EXTENSIONS[ext]
    if ext == "m4a" and bitrate is not None and bitrate >= ALAC_MIN_KBPS:
        codec, lossless = "alac", True
    rate = sample_rate or DEFAULT_SAMPLE_RATE
    kbps = None
    if not lossless and bitrate:
        kbps = min(LOSSY_BUCKETS_KBPS, key=lambda b: abs(b - bitrate))
    evidence = QualityEvidence(codec=codec, container=ext.upper(), lossless=lossless,
                               sample_rate=rate, bitrate_kbps=kbps,
                               bit_depth=bit_depth if lossless else None)  # fmt: skip
    return Variant(
        file_id="", path="", codec=codec, lossless=lossless, sample_rate=rate,
        bit_depth=bit_depth if lossless else None,
        bitrate_bps=kbps * 1000 if kbps else None,
        quality_score=quality_score(evidence), transcode_suspect=False,
    )  # fmt: skip


def _most_common(values: Iterable[int | None]) -> int | None:
    """The value most peers report (ties: the lowest, the cautious reading); None if none."""
    counts = Counter(v for v in values if v)
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


def group_variant(group: CandidateGroup) -> Variant | None:
    """The file's variant from what most of its peers say about it."""
    return offer_variant(
        group.name,
        _most_common(o.bitrate for o in group.offers),
        _most_common(o.sample_rate for o in group.offers),
        _most_common(o.bit_depth for o in group.offers),
    )


CD_KBPS = 1411.2  # 44.1 kHz × 16 bit × 2 channels, uncompressed


def playback_kbps(group: CandidateGroup) -> float:
    """The rate a player reads the file at, for playback mode: its size over the duration
    most peers report; failing that, a lossy file's bitrate; failing that, what its samples
    would take uncompressed (stereo; CD quality when unknown). Those last guesses read fast,
    so the zones cover at least the seconds they are meant to."""
    duration = _most_common(o.duration for o in group.offers)
    if duration:
        return group.size * 8 / 1000 / duration
    variant, bitrate = group_variant(group), _most_common(o.bitrate for o in group.offers)
    if variant is not None and not variant.lossless and bitrate:
        return float(bitrate)
    rate = _most_common(o.sample_rate for o in group.offers)
    depth = _most_common(o.bit_depth for o in group.offers)
    return rate * depth * 2 / 1000 if rate and depth else CD_KBPS


def quality_ranks(groups: Sequence[CandidateGroup]) -> dict[tuple[str, int], int]:
    """Each file's place in the canonical order (0 = best); files that are not audio share
    the last place. Equal variants share a place."""
    variants = {g.file_key: group_variant(g) for g in groups}
    ordered = canonical_order({v for v in variants.values() if v is not None})
    place = {v: i for i, v in enumerate(ordered)}
    return {key: place[v] if v is not None else len(ordered) for key, v in variants.items()}


def rank_groups(groups: Iterable[CandidateGroup]) -> list[CandidateGroup]:
    """Best group first (see the module docstring for the order)."""
    groups = list(groups)
    ranks = quality_ranks(groups)
    return sorted(groups, key=lambda g: (
        not g.confirmed, ranks[g.file_key], -g.sources, -g.total_speed,
        g.name.casefold(), g.size, g.digests or (),
    ))  # fmt: skip


def choose_group(groups: Iterable[CandidateGroup]) -> CandidateGroup | None:
    """The best confirmed group, or None when no group is confirmed."""
    return next((g for g in rank_groups(groups) if g.confirmed), None)

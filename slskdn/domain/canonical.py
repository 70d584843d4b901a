"""Canonicality: which local variant of a recording is the best copy. Pure policy.

A variant is one file holding a recording. Candidates are ordered by:

1. not a suspected transcode (a lossless file made from MP3 is worse than an honest MP3);
2. quality score (domain.quality: lossless, sane sample rate, no clipping, no upsampling);
3. lossless before lossy;
4. a standard sample rate (44.1/48 kHz) before hi-res or odd rates — the canonical edition
   of most releases is the CD's, and hi-res files are often upsampled;
5. higher bit depth, then higher bitrate;
6. the path (then the id), so the order is total and stable.

Constraints filter before ordering (``lossless_only``, ``codecs``, ``max_sample_rate``,
``min_quality``, ``allow_suspects``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LOSSY_BUCKETS_KBPS = (64, 96, 128, 160, 192, 224, 256, 320)
STANDARD_RATES = (44_100, 48_000)


@dataclass(frozen=True)
class Variant:
    file_id: str
    path: str
    codec: str
    lossless: bool
    sample_rate: int
    bit_depth: int | None
    bitrate_bps: int | None
    quality_score: float
    transcode_suspect: bool


@dataclass(frozen=True)
class CanonicalConstraints:
    lossless_only: bool = False
    codecs: tuple[str, ...] = ()
    max_sample_rate: int | None = None
    min_quality: float = 0.0
    allow_suspects: bool = True


def bitrate_bucket(bitrate_bps: int | None, lossless: bool) -> str:
    """'lossless', or the nearest common lossy bitrate, e.g. '320k'."""
    if lossless:
        return "lossless"
    if not bitrate_bps:
        return "unknown"
    kbps = bitrate_bps / 1000
    nearest = min(LOSSY_BUCKETS_KBPS, key=lambda b: abs(b - kbps))
    return f"{nearest}k"


def codec_profile(
    codec: str, lossless: bool, sample_rate: int, bit_depth: int | None, bitrate_bps: int | None
) -> str:
    """'flac 16/44.1', 'flac 24/96', 'mp3 320k', 'vorbis 192k'."""
    if lossless:
        return f"{codec} {bit_depth or '?'}/{sample_rate / 1000:g}"
    return f"{codec} {bitrate_bucket(bitrate_bps, lossless)}"


def allowed(variant: Variant, constraints: CanonicalConstraints) -> bool:
    c = constraints
    return not (
        (c.lossless_only and not variant.lossless)
        or (c.codecs and variant.codec not in c.codecs)
        or (c.max_sample_rate is not None and variant.sample_rate > c.max_sample_rate)
        or variant.quality_score < c.min_quality
        or (not c.allow_suspects and variant.transcode_suspect)
    )


def canonical_order(
    variants: Iterable[Variant], constraints: CanonicalConstraints | None = None
) -> list[Variant]:
    """The allowed variants, best first (see the module docstring for the order)."""
    c = constraints or CanonicalConstraints()
    return sorted((v for v in variants if allowed(v, c)), key=_sort_key)


def _sort_key(v: Variant) -> tuple[object, ...]:
    return (
        v.transcode_suspect,
        -round(v.quality_score, 6),
        not v.lossless,
        v.sample_rate not in STANDARD_RATES,
        -(v.bit_depth or 0),
        -(v.bitrate_bps or 0),
        v.path,
        v.file_id,
        repr(v),  # total even for duplicate records
    )


def best(
    variants: Sequence[Variant], constraints: CanonicalConstraints | None = None
) -> Variant | None:
    ordered = canonical_order(variants, constraints)
    return ordered[0] if ordered else None

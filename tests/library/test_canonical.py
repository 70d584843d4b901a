from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.canonical import (
    CanonicalConstraints,
    Variant,
    bitrate_bucket,
    canonical_order,
    codec_profile,
)
from slskdn.domain.library_file import needs_analysis

variants = st.builds(
    Variant,
    file_id=st.uuids().map(str),
    path=st.text(min_size=1, max_size=8).map(lambda s: "/m/" + s),
    codec=st.sampled_from(["flac", "mp3", "vorbis"]),
    lossless=st.booleans(),
    sample_rate=st.sampled_from([44_100, 48_000, 96_000]),
    bit_depth=st.sampled_from([None, 16, 24]),
    bitrate_bps=st.sampled_from([None, 128_000, 320_000]),
    quality_score=st.floats(0, 1),
    transcode_suspect=st.booleans(),
)


@given(st.lists(variants, max_size=12), st.randoms())
def test_the_order_does_not_depend_on_the_input_order(vs: list[Variant], rnd) -> None:
    shuffled = list(vs)
    rnd.shuffle(shuffled)
    assert canonical_order(shuffled) == canonical_order(vs)


@given(st.lists(variants, max_size=12))
def test_no_suspected_transcode_ranks_above_an_honest_variant(vs: list[Variant]) -> None:
    flags = [v.transcode_suspect for v in canonical_order(vs)]
    assert flags == sorted(flags)


@given(st.lists(variants, max_size=12))
def test_constraints_only_remove_variants(vs: list[Variant]) -> None:
    lossless = canonical_order(vs, CanonicalConstraints(lossless_only=True, allow_suspects=False))
    assert all(v.lossless and not v.transcode_suspect for v in lossless)
    assert [v for v in canonical_order(vs) if v in lossless] == lossless


def test_profiles_and_buckets_read_like_people_say_them() -> None:
    assert codec_profile("flac", True, 96_000, 24, None) == "flac 24/96"
    assert codec_profile("mp3", False, 44_100, None, 318_000) == "mp3 320k"
    assert bitrate_bucket(None, False) == "unknown"


def test_only_changed_or_outdated_files_need_analysis() -> None:
    assert needs_analysis(None, 10, 5, 1)
    assert not needs_analysis((10, 5, 1, "ok"), 10, 5, 1)
    assert not needs_analysis((10, 5, 1, "unreadable"), 10, 5, 1)
    assert needs_analysis((10, 5, 1, "ok"), 11, 5, 1)
    assert needs_analysis((10, 5, 1, "ok"), 10, 6, 1)
    assert needs_analysis((10, 5, 1, "ok"), 10, 5, 2)
    assert needs_analysis((10, 5, 1, "removed"), 10, 5, 1)

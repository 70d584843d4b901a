from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.candidates import (
    CD_KBPS,
    CandidateGroup,
    Offer,
    choose_group,
    file_name,
    group_offers,
    offer_variant,
    playback_kbps,
    quality_ranks,
    rank_groups,
)


def test_copies_group_by_name_case_insensitively_and_exact_size() -> None:
    offers = [
        Offer("a", "Music\\Album\\01 Song.flac", 1000, speed=10),
        Offer("b", "x/01 song.FLAC", 1000, speed=30),
        Offer("c", "01 Song.flac", 1001),  # another size: another file
        Offer("a", "elsewhere/01 Song.flac", 1000, speed=10),  # same peer twice: one source
    ]
    groups = group_offers(offers)
    assert [(g.size, g.sources) for g in groups] == [(1000, 2), (1001, 1)]
    assert [o.username for o in groups[0].offers] == ["b", "a"]
    assert not any(g.confirmed for g in groups)  # nothing is confirmed before a probe


def names(groups: list[CandidateGroup]) -> list[str]:
    return [g.name for g in groups]


def test_lossless_beats_more_sources_of_a_lossy_file() -> None:
    offers = [
        Offer("a", "song.mp3", 5_000, speed=900, bitrate=320),
        Offer("b", "song.mp3", 5_000, speed=900, bitrate=320),
        Offer("c", "song.mp3", 5_000, speed=900, bitrate=320),
        Offer("d", "song.flac", 30_000, speed=10, sample_rate=44_100, bit_depth=16),
    ]
    assert names(group_offers(offers)) == ["song.flac", "song.mp3"]


def test_higher_bitrate_class_first_and_same_class_decided_by_sources() -> None:
    offers = [
        Offer("a", "low.mp3", 1, bitrate=128),
        Offer("b", "low.mp3", 1, bitrate=128),
        Offer("c", "high.mp3", 2, bitrate=320),
        # A VBR average of 245 kbps is the 256k class, like a CBR 256: sources decide.
        Offer("d", "vbr.mp3", 3, bitrate=245),
        Offer("e", "cbr.mp3", 4, bitrate=256),
        Offer("f", "cbr.mp3", 4, bitrate=256),
    ]
    assert names(group_offers(offers)) == ["high.mp3", "cbr.mp3", "vbr.mp3", "low.mp3"]


def test_canonical_edition_and_codec_rules_come_from_the_canonical_policy() -> None:
    offers = [
        Offer("a", "hires.flac", 9, sample_rate=96_000, bit_depth=24),
        Offer("b", "cd.flac", 8, sample_rate=44_100, bit_depth=16),
        Offer("c", "alac.m4a", 7, bitrate=900),  # an .m4a at 900 kbps is ALAC: lossless
        Offer("d", "aac.m4a", 6, bitrate=256),
        Offer("e", "cover.jpg", 5),
        Offer("f", "cover.jpg", 5),
        Offer("g", "booklet.pdf", 4),
    ]
    ranked = names(group_offers(offers))
    # The CD edition is canonical (hi-res files are often upsampled), as domain.canonical says.
    assert ranked.index("cd.flac") < ranked.index("hires.flac")
    assert ranked.index("alac.m4a") < ranked.index("aac.m4a")
    # Files that are not audio come last and are ordered by sources among themselves.
    assert ranked[-2:] == ["cover.jpg", "booklet.pdf"]
    variant = offer_variant("alac.m4a", 900, None, None)
    assert variant is not None and variant.lossless and variant.codec == "alac"
    assert offer_variant("notes.txt", None, None, None) is None


def test_attributes_most_peers_agree_on_describe_the_file() -> None:
    group = group_offers([
        Offer("a", "x.mp3", 1, bitrate=128),
        Offer("b", "x.mp3", 1, bitrate=320),
        Offer("c", "x.mp3", 1, bitrate=320),
    ])[0]
    other = group_offers([Offer("d", "y.mp3", 2, bitrate=256)])[0]
    ranks = quality_ranks([group, other])
    assert ranks[group.file_key] < ranks[other.file_key]  # read as 320k, not 128k


def test_the_chosen_group_is_confirmed_even_when_an_unconfirmed_one_is_better() -> None:
    flac = CandidateGroup("a.flac", 10, (Offer("a", "a.flac", 10),))
    mp3 = CandidateGroup("a.mp3", 5, (Offer("b", "a.mp3", 5, bitrate=320),), digests=("x",))
    assert choose_group([flac]) is None
    assert choose_group([flac, mp3]) == mp3
    assert rank_groups([flac, mp3]) == [mp3, flac]


offers_strategy = st.lists(
    st.builds(
        Offer,
        st.sampled_from("abcd"),
        st.sampled_from(["x/1.flac", "1.FLAC", "y\\2.mp3", "3.jpg"]),
        st.sampled_from([10, 20]),
        st.integers(0, 100),
        bitrate=st.sampled_from([None, 128, 320]),
    )
)


@given(offers_strategy)
def test_every_peer_appears_once_per_group_and_groups_are_ordered(offers: list[Offer]) -> None:
    groups = group_offers(offers)
    for g in groups:
        assert len({o.username for o in g.offers}) == len(g.offers)
    ranks = quality_ranks(groups)
    keys = [(ranks[g.file_key], -g.sources, -g.total_speed) for g in groups]
    assert keys == sorted(keys)
    distinct = {(o.username, file_name(o.path).casefold(), o.size) for o in offers}
    assert sum(g.sources for g in groups) == len(distinct)


def test_a_player_reads_the_file_at_its_size_over_the_duration_peers_report() -> None:
    def group(name: str, size: int, **attrs: int | None) -> CandidateGroup:
        return CandidateGroup(name, size, (Offer("a", name, size, **attrs),
                                           Offer("b", name, size, **attrs)))

    assert playback_kbps(group("t.flac", 30_000_000, duration=240)) == 1000.0
    assert playback_kbps(group("t.mp3", 9_000_000, bitrate=320)) == 320.0  # no duration
    assert playback_kbps(group("t.flac", 9_000_000, sample_rate=48000, bit_depth=24)) == 2304.0
    assert playback_kbps(group("t.flac", 9_000_000)) == CD_KBPS == 1411.2

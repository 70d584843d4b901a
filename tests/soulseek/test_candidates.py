from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.candidates import Offer, file_name, group_offers


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


offers_strategy = st.lists(
    st.builds(
        Offer,
        st.sampled_from("abcd"),
        st.sampled_from(["x/1.flac", "1.FLAC", "y\\2.mp3"]),
        st.sampled_from([10, 20]),
        st.integers(0, 100),
    )
)


@given(offers_strategy)
def test_every_peer_appears_once_per_group_and_groups_are_ordered(offers: list[Offer]) -> None:
    groups = group_offers(offers)
    for g in groups:
        assert len({o.username for o in g.offers}) == len(g.offers)
    assert [g.sources for g in groups] == sorted((g.sources for g in groups), reverse=True)
    distinct = {(o.username, file_name(o.path).casefold(), o.size) for o in offers}
    assert sum(g.sources for g in groups) == len(distinct)

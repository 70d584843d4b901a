"""Discography profiles and the release-choice rule (slskdn.domain.discography)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from slskdn.domain.discography import (
    Profile,
    ProfileOptions,
    choose_release,
    date_key,
    discography,
    group_by_type,
    release_key,
    type_label,
)
from slskdn.musicbrainz.model import MediumSummary, Release, ReleaseGroup
from slskdn.musicbrainz.service import MusicBrainzService
from tests.musicbrainz import synthetic as S


def release(
    id: str,
    status: str | None = "Official",
    country: str | None = None,
    date: str | None = None,
    tracks: tuple[int, ...] = (10,),
    group: str = "g",
) -> Release:
    media = tuple(MediumSummary(i + 1, "CD", n) for i, n in enumerate(tracks))
    return Release(id, "t", date, country, status, group, (), media)


# The rule, step by step -----------------------------------------------------------------


def test_official_beats_an_earlier_bootleg_in_a_preferred_country() -> None:
    boot = release("a", "Bootleg", "US", "1990")
    official = release("b", "Official", "JP", "2000")
    assert choose_release([boot, official], ("US",)) is official


def test_preferred_countries_in_their_order_beat_dates() -> None:
    gb = release("a", country="GB", date="1990")
    us = release("b", country="US", date="1995")
    xw = release("c", country="XW", date="2015")
    assert choose_release([gb, us, xw], ("XW", "US", "GB")) is xw
    assert choose_release([gb, us, xw], ("US", "GB")) is us
    assert choose_release([gb, us, xw], ()) is gb


def test_earliest_date_then_partial_then_missing() -> None:
    full = release("c", date="1999-02-15")
    partial = release("b", date="1999")
    none = release("a", date=None)
    assert choose_release([none, partial, full]) is full
    assert choose_release([none, partial]) is partial
    assert date_key("1999") > date_key("1999-12-31")
    assert date_key("1999-06-30") < date_key("1999-06") < date_key("1999-07-01")
    assert date_key("garbage") == date_key(None)


def test_complete_media_then_most_tracks_then_id() -> None:
    incomplete = release("a", tracks=(12, 0))
    small = release("b", tracks=(9,))
    big = release("c", tracks=(13,))
    assert choose_release([incomplete, small]) is small
    assert choose_release([small, big]) is big
    twin_a, twin_b = release("x1", tracks=(9,)), release("x2", tracks=(9,))
    assert choose_release([twin_b, twin_a]) is twin_a
    assert choose_release([]) is None


def test_status_order() -> None:
    ranked = [
        release(str(i), status)
        for i, status in enumerate(
            ["Official", None, "Promotion", "Bootleg", "Pseudo-Release", "Withdrawn"]
        )
    ]
    for i in range(len(ranked) - 1):
        assert choose_release(ranked[i:]) is ranked[i]


# Profiles on the synthetic artist --------------------------------------------------------


def test_core_is_studio_albums_with_the_chosen_release(service: MusicBrainzService) -> None:
    entries = service.discography(S.ARTIST, Profile.CORE).value.entries
    assert [(e.release_group_id, e.release_id, e.year) for e in entries] == [
        (S.RG_DEBUT, S.R_DEBUT_XW, 1999),  # XW is the first preferred country
        (S.RG_SECOND, S.R_SECOND_JP, 2002),  # same date, more tracks; promo loses
        (S.RG_THIRD, S.R_THIRD_B, 2006),  # complete media beat more tracks
        (S.RG_UNRELEASED, None, None),
    ]
    assert {e.type for e in entries} == {"Album"}


def test_core_can_admit_live_albums_and_compilations(service: MusicBrainzService) -> None:
    live = service.discography(S.ARTIST, Profile.CORE, core_includes_live=True).value
    both = service.discography(
        S.ARTIST, Profile.CORE, core_includes_live=True, core_includes_compilations=True
    ).value
    live_ids = {e.release_group_id for e in live.entries}
    assert {S.RG_LIVE, S.RG_BOOT_LIVE} <= live_ids and S.RG_COMP not in live_ids
    assert S.RG_COMP in {e.release_group_id for e in both.entries}


def test_extended_adds_eps_and_official_live_and_compilations(
    service: MusicBrainzService,
) -> None:
    core = {e.release_group_id for e in service.discography(S.ARTIST, Profile.CORE).value.entries}
    extended = service.discography(S.ARTIST, Profile.EXTENDED).value.entries
    assert {e.release_group_id for e in extended} - core == {S.RG_EP, S.RG_LIVE, S.RG_COMP}
    assert [e.type for e in extended][-1] == "EP"  # Albums, then Album + …, then EP


def test_all_is_everything_grouped_by_type(service: MusicBrainzService) -> None:
    entries = service.discography(S.ARTIST, Profile.ALL).value.entries
    assert len(entries) == 11
    grouped = group_by_type(entries)
    assert list(grouped) == [
        "Album",
        "Album + Compilation",
        "Album + Live",
        "Album + Remix",
        "Album + Soundtrack",
        "EP",
        "Single",
    ]
    assert [e.release_group_id for e in grouped["Album + Live"]] == [S.RG_LIVE, S.RG_BOOT_LIVE]
    assert grouped["Single"][0].release_id == S.R_SINGLE


def test_type_label() -> None:
    assert type_label("EP", ["Live", "Compilation"]) == "EP + Compilation + Live"
    assert type_label(None, []) == "(no type)"


# Properties ------------------------------------------------------------------------------

IDS = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(12)]
releases_st = st.lists(
    st.builds(
        release,
        id=st.sampled_from(IDS),
        status=st.sampled_from(["Official", "Promotion", "Bootleg", "Pseudo-Release", None, "X"]),
        country=st.sampled_from(["US", "GB", "XW", "JP", None]),
        date=st.sampled_from([None, "1999", "1999-05", "1999-05-03", "2001-01-01", "bad"]),
        tracks=st.lists(st.integers(0, 30), max_size=3).map(tuple),
        group=st.sampled_from(IDS[:5]),
    ),
    unique_by=lambda r: r.id,
    max_size=12,
)
groups_st = st.lists(
    st.builds(
        ReleaseGroup,
        id=st.sampled_from(IDS[:5]),
        title=st.sampled_from(["A", "b", "C"]),
        primary_type=st.sampled_from(["Album", "EP", "Single", "Other", None]),
        secondary_types=st.lists(
            st.sampled_from(["Live", "Compilation", "Soundtrack", "Remix"]), unique=True, max_size=2
        ).map(tuple),
        first_release_date=st.sampled_from([None, "1999", "2001-02-03"]),
    ),
    unique_by=lambda g: g.id,
    max_size=5,
)
options_st = st.builds(
    ProfileOptions,
    core_includes_live=st.booleans(),
    core_includes_compilations=st.booleans(),
    preferred_countries=st.sampled_from([(), ("XW", "US", "GB"), ("JP",)]),
)


@settings(max_examples=200, deadline=None)
@given(
    releases=releases_st,
    countries=st.sampled_from([(), ("XW", "US", "GB"), ("JP", "GB")]),
    seed=st.integers(),
)
def test_choice_is_deterministic_minimal_and_order_free(
    releases: list[Release], countries: tuple[str, ...], seed: int
) -> None:
    chosen = choose_release(releases, countries)
    shuffled = releases[:]
    random.Random(seed).shuffle(shuffled)
    again = choose_release(shuffled, countries)
    if not releases:
        assert chosen is None and again is None
        return
    assert chosen is not None and again is not None and chosen.id == again.id
    assert all(release_key(chosen, countries) <= release_key(r, countries) for r in releases)
    if any(r.status == "Official" for r in releases):
        assert chosen.status == "Official"


@settings(max_examples=200, deadline=None)
@given(groups=groups_st, releases=releases_st, options=options_st, seed=st.integers())
def test_core_within_extended_within_all_and_order_free(
    groups: list[ReleaseGroup], releases: list[Release], options: ProfileOptions, seed: int
) -> None:
    core, extended, everything = (
        discography(groups, releases, profile, options)
        for profile in (Profile.CORE, Profile.EXTENDED, Profile.ALL)
    )
    ids = [{e.release_group_id for e in entries} for entries in (core, extended, everything)]
    assert ids[0] <= ids[1] <= ids[2] == {g.id for g in groups}
    rng = random.Random(seed)
    groups, releases = groups[:], releases[:]
    rng.shuffle(groups)
    rng.shuffle(releases)
    assert discography(groups, releases, Profile.ALL, options) == everything
    assert all(e.type == "Album" for e in core) or options.core_secondary_types

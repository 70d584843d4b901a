"""The probe plan and what probe results do to groups (pure domain)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.candidate_probes import (
    PROBE_BYTES,
    PeerSpend,
    ProbeBudget,
    ProbeResult,
    copies_of,
    left_out,
    plan_probes,
    probe_ranges,
    refine,
)
from slskdn.domain.candidates import Offer, choose_group, group_offers

MB = 1_000_000


def test_probe_ranges_are_the_head_and_the_middle() -> None:
    assert probe_ranges(10 * MB) == ((0, PROBE_BYTES), (5 * MB - 16384, 5 * MB + 16384))
    assert probe_ranges(1000) == ((0, 1000),)  # a small file is probed whole
    assert probe_ranges(40_000) == ((0, PROBE_BYTES), (PROBE_BYTES, 40_000))
    with pytest.raises(ValueError, match="0 bytes"):
        probe_ranges(0)


@given(st.integers(1, 10**10))
def test_probe_ranges_fit_the_file_and_never_overlap(size: int) -> None:
    ranges = probe_ranges(size)
    assert ranges[0][0] == 0
    for a, b in ranges:
        assert 0 <= a < b <= size and b - a <= PROBE_BYTES
    if len(ranges) == 2:
        assert ranges[0][1] <= ranges[1][0]
    assert probe_ranges(size) == ranges  # derived from the size alone


def test_a_peer_over_its_budget_is_not_probed_again() -> None:
    # "greedy" offers three different files the search matched; one probe allowed per peer.
    offers = [
        Offer("greedy", "a.flac", 10 * MB), Offer("x", "a.flac", 10 * MB),
        Offer("greedy", "b.flac", 11 * MB), Offer("y", "b.flac", 11 * MB),
        Offer("greedy", "c.flac", 12 * MB),
    ]  # fmt: skip
    groups = group_offers(offers)
    budget = ProbeBudget(probes_per_peer=1)
    plan = plan_probes(groups, budget)
    assert [r.username for r in plan.requests].count("greedy") == 1
    assert {o.username for o, _ in plan.skipped} == {"greedy"}
    assert all("peer budget" in why for _, why in plan.skipped)
    assert plan.spent["greedy"] == PeerSpend(1, 2 * PROBE_BYTES)
    # The same search probed again (e.g. after failures): what was spent still counts.
    again = plan_probes(groups, budget, plan.spent)
    assert "greedy" not in {r.username for r in again.requests}


def test_byte_budget_group_cap_and_group_count() -> None:
    big = [Offer(f"p{i}", "big.flac", 50 * MB, free_slot=i % 2 == 0) for i in range(5)]
    other = [Offer("q", "other.flac", 20 * MB)]
    third = [Offer("r", "third.flac", 30 * MB)]
    groups = group_offers(big + other + third)
    plan = plan_probes(groups, ProbeBudget(offers_per_group=3, groups=2))
    probed = [r.username for r in plan.requests]
    # free slots first, at most 3 of the big group, and only the two best groups
    assert probed[:3] == ["p0", "p2", "p4"] and "r" not in probed
    assert len([u for u in probed if u.startswith("p")]) == 3
    assert {o.username for o, why in plan.skipped if "group cap" in why} == {"p1", "p3"}
    # A budget too small for one probe of a big file skips it, saying why.
    tiny = plan_probes(groups, ProbeBudget(bytes_per_peer=PROBE_BYTES))
    assert not tiny.requests and "bytes" in tiny.skipped[0][1]


def test_bad_budget_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="probes_per_peer"):
        ProbeBudget(probes_per_peer=-1)


def test_probes_split_a_group_whose_copies_differ() -> None:
    size = 10 * MB
    offers = [Offer(u, f"{u}/song.flac", size, speed=s)
              for u, s in [("a", 5), ("b", 4), ("c", 3), ("odd", 100), ("dead", 9), ("late", 1)]]
    groups = group_offers(offers)
    same, other = ("h", "m"), ("h", "m2")  # same head, another middle: a different encode
    results = [
        ProbeResult("a", "a/song.flac", size, same), ProbeResult("b", "b/song.flac", size, same),
        ProbeResult("c", "c/song.flac", size, same),
        ProbeResult("odd", "odd/song.flac", size, other),
        ProbeResult("dead", "dead/song.flac", size, None, "rejected: File not shared."),
    ]  # "late" was not probed (budget)  # fmt: skip
    refined = refine(groups, results)
    assert [(sorted(o.username for o in g.offers), g.digests) for g in refined] == [
        (["a", "b", "c"], same), (["odd"], other), (["dead", "late"], None),
    ]  # fmt: skip
    chosen = choose_group(refined)
    assert chosen is not None and {o.username for o in chosen.offers} == {"a", "b", "c"}
    assert refined[-1].failures == (("dead", "rejected: File not shared."),)
    why = left_out(chosen, refined, [(offers[-1], "peer budget: 1 of 1 probes used")])
    assert why == {
        "odd": "another copy: its probe differs",
        "dead": "probe failed: rejected: File not shared.",
        "late": "not probed (peer budget: 1 of 1 probes used)",
    }


def test_nothing_confirmed_means_nothing_chosen() -> None:
    groups = group_offers([Offer("a", "s.mp3", 5)])
    refined = refine(groups, [ProbeResult("a", "s.mp3", 5, None, "timeout")])
    assert choose_group(refined) is None
    assert refined[0].failures == (("a", "timeout"),)


peers = st.sampled_from(["a", "b", "c", "d", "e"])
offer_lists = st.lists(
    st.builds(
        Offer,
        peers,
        st.sampled_from(["1.flac", "d/1.FLAC", "2.mp3", "3.bin"]),
        st.sampled_from([100, 70_000, 5 * MB]),
        st.integers(0, 10),
        st.booleans(),
        st.integers(0, 3),
    ),
    max_size=25,
)
budgets = st.builds(ProbeBudget, st.integers(0, 3), st.integers(0, 5 * PROBE_BYTES),
                    st.integers(0, 4), st.integers(0, 4))  # fmt: skip


@given(offer_lists, budgets, st.dictionaries(peers, st.integers(0, 2).map(
    lambda n: PeerSpend(n, n * PROBE_BYTES))))  # fmt: skip
def test_the_plan_never_exceeds_the_budget(
    offers: list[Offer], budget: ProbeBudget, spent: dict[str, PeerSpend]
) -> None:
    groups = group_offers(offers)
    plan = plan_probes(groups, budget, spent)
    keys = [r.key for r in plan.requests]
    assert len(keys) == len(set(keys))  # never the same offer twice
    assert set(keys) <= {o.key for g in groups for o in g.offers}
    for user in {r.username for r in plan.requests}:
        mine = [r for r in plan.requests if r.username == user]
        before = spent.get(user, PeerSpend())
        assert before.probes + len(mine) <= budget.probes_per_peer
        assert before.bytes + sum(r.cost for r in mine) <= budget.bytes_per_peer
        assert plan.spent[user] == PeerSpend(before.probes + len(mine),
                                             before.bytes + sum(r.cost for r in mine))
    by_file: dict[tuple[str, int], int] = {}
    for r in plan.requests:
        file = next(g.file_key for g in groups if any(o.key == r.key for o in g.offers))
        by_file[file] = by_file.get(file, 0) + 1
    assert all(n <= budget.offers_per_group for n in by_file.values())
    assert len(by_file) <= budget.groups


digest_choices = st.sampled_from([None, ("h1", "m1"), ("h1", "m2"), ("h2", "m1")])


@given(offer_lists, st.data())
def test_refining_never_mixes_different_probes_and_keeps_every_offer(
    offers: list[Offer], data: st.DataObject
) -> None:
    groups = group_offers(offers)
    results = []
    for o in (o for g in groups for o in g.offers):
        outcome = data.draw(st.one_of(st.just("unprobed"), digest_choices))
        if outcome != "unprobed":
            digests = outcome if isinstance(outcome, tuple) else None
            results.append(ProbeResult(o.username, o.path, o.size, digests, "failed"))
    by_key = {r.key: r for r in results}
    refined = refine(groups, results)
    for g in refined:
        seen = {by_key[o.key].digests if o.key in by_key else "unprobed" for o in g.offers}
        if g.confirmed:
            assert seen == {g.digests}  # one probe outcome per confirmed group
        else:
            assert seen <= {None, "unprobed"}  # failed or unprobed: never confirmed
            assert {u for u, _ in g.failures} == {
                o.username for o in g.offers if by_key.get(o.key) is not None}
    before = sorted(o.key for g in groups for o in g.offers)
    assert sorted(o.key for g in refined for o in g.offers) == before
    confirmed = [g.confirmed for g in refined]
    assert confirmed == sorted(confirmed, reverse=True)  # confirmed groups first


def test_the_named_copy_is_probed_first_and_only_its_matches_are_sources() -> None:
    # The named peer is slow and queued: probe order alone would leave it out of a 2-probe cap.
    named = Offer("named", "dir/a.flac", 10 * MB, speed=1, free_slot=False, queue_length=9)
    others = [Offer(f"p{i}", "other/A.FLAC", 10 * MB, speed=100) for i in range(3)]
    group = group_offers([named, *others])[0]
    plan = plan_probes([group], ProbeBudget(offers_per_group=2), first=named)
    assert [r.username for r in plan.requests] == ["named", "p0"]

    digests = {"named": ("h", "m"), "p0": ("h", "m"), "p1": ("x", "m")}
    results = [ProbeResult(o.username, o.path, o.size, digests.get(o.username),
                           "" if o.username in digests else "timeout")
               for o in group.offers]  # fmt: skip
    groups = refine([group], results)
    chosen = copies_of(named, groups)
    assert sorted(o.username for o in chosen.offers) == ["named", "p0"] and chosen.confirmed
    assert left_out(chosen, groups) == {"p1": "another copy: its probe differs",
                                        "p2": "probe failed: timeout"}
    # Its own probe failed: it alone, nothing compared with it is trusted.
    failed = refine([group], [ProbeResult("named", named.path, named.size, None, "closed"),
                              *results[1:]])  # fmt: skip
    assert copies_of(named, failed).offers == (named,)

"""The integrity ledger: cross-checked blocks, disputes, convictions and the end check."""

from __future__ import annotations

from slskdn.domain.swarm.integrity import (
    BlockDisputed,
    BlockVerified,
    FileAccepted,
    FileUnverifiable,
    IntegrityLedger,
    RecheckSource,
    SourceConvicted,
    WholeFileCheck,
    trace_order,
)


def ledger(reference: dict[int, str] | None = None) -> IntegrityLedger:
    return IntegrityLedger(file_size=1000, block_size=100, reference=reference)


def test_block_geometry_covers_the_file_with_a_short_last_block() -> None:
    lg = IntegrityLedger(file_size=1050, block_size=100)
    assert lg.block_count == 11 and lg.block_range(10) == (1000, 1050)
    assert list(lg.whole_blocks(150, 420)) == [2, 3]
    assert list(lg.whole_blocks(900, 1050)) == [9, 10]  # the short tail block counts


def test_two_agreeing_sources_verify_a_block() -> None:
    lg = ledger()
    assert lg.record(3, "a", "x") == []
    findings = lg.record(3, "b", "x")
    assert findings == [BlockVerified(3, ("a", "b"))]
    assert lg.is_established(3)


def test_two_disagreeing_sources_dispute_a_block_and_a_third_decides() -> None:
    lg = ledger()
    lg.record(3, "a", "good")
    assert lg.record(3, "b", "evil") == [BlockDisputed(3, ("a", "b"))]
    assert lg.disputed() == {3} and lg.disputes_of("b") == 1
    findings = lg.record(3, "c", "good")
    assert BlockVerified(3, ("a", "c")) in findings
    assert any(isinstance(f, SourceConvicted) and f.source_id == "b" for f in findings)
    assert "b" in lg.convicted and lg.disputed() == set()


def test_a_reference_digest_convicts_at_once() -> None:
    lg = ledger(reference={0: "good"})
    findings = lg.record(0, "x", "evil")
    assert findings and isinstance(findings[0], SourceConvicted)
    assert lg.convicted["x"] == "sent bytes that differ from verified content"


def test_sending_two_versions_of_one_block_is_a_conviction() -> None:
    lg = ledger()
    lg.record(1, "x", "one")
    findings = lg.record(1, "x", "two")
    assert [f.source_id for f in findings if isinstance(f, SourceConvicted)] == ["x"]


def test_a_convicted_sources_opinions_stop_counting() -> None:
    lg = ledger()
    lg.record(5, "x", "evil")
    lg.record(5, "a", "good")  # disputed
    lg.convict("x", None, "found corrupt elsewhere")
    assert 5 not in lg.disputed()
    assert lg.record(5, "x", "evil") == []  # ignored now
    assert lg.record(5, "b", "good") == [BlockVerified(5, ("a", "b"))]


def test_accepting_the_file_convicts_whoever_sent_something_else() -> None:
    lg = ledger()
    lg.record(2, "a", "good")
    lg.record(4, "x", "evil")  # x's bytes were not the ones written, but it lied
    findings = lg.accept_file({i: ("good" if i == 2 else f"d{i}") for i in range(10)})
    assert any(isinstance(f, SourceConvicted) and f.source_id == "x" for f in findings)
    assert lg.established() == set(range(10))


def test_the_end_check_accepts_a_matching_file() -> None:
    check = WholeFileCheck("abc")
    assert check.judge("abc", {"a": 10}, {}, {}) == FileAccepted(None)


def test_a_failed_end_check_rechecks_a_disputed_source_alone() -> None:
    check = WholeFileCheck("right")
    first = check.judge("wrong", {"a": 100, "b": 100, "c": 100}, {"b": 1}, {})
    assert first == RecheckSource(("b",), ())
    assert check.judge("right", {}, {}, {}) == FileAccepted("b")  # the fix convicts it


def test_a_failed_end_check_halves_the_suspects_until_the_fix_is_found() -> None:
    check = WholeFileCheck("right")
    sizes = {s: 1_000_000 for s in "abcdefgh"}
    first = check.judge("wrong", sizes, {}, {})
    assert isinstance(first, RecheckSource) and len(first.suspects) == 4
    rest = {s: n for s, n in sizes.items() if s not in first.suspects}
    second = check.judge("wrong", rest, {}, {})
    assert isinstance(second, RecheckSource) and second.cleared == first.suspects
    assert len(second.suspects) == 2 and not set(second.suspects) & set(first.suspects)
    third = check.judge("wrong", {s: 1_000_000 for s in rest if s not in second.suspects},
                        {}, {})
    assert isinstance(third, RecheckSource) and len(third.suspects) == 1
    assert check.judge("right", {}, {}, {}) == FileAccepted(third.suspects[0])
    assert check.rounds == 3  # log2(8), not 8


def test_a_group_is_never_everyone() -> None:
    check = WholeFileCheck("right")
    verdict = check.judge("wrong", {"a": 10, "b": 10_000_000}, {}, {})
    assert isinstance(verdict, RecheckSource) and len(verdict.suspects) == 1


def test_a_fix_is_not_pinned_on_the_suspect_if_someone_else_was_convicted_meanwhile() -> None:
    check = WholeFileCheck("right")
    check.judge("wrong", {"a": 100, "b": 5}, {"a": 1}, {}, convictions=0)
    assert check.judge("right", {}, {}, {}, convictions=1) == FileAccepted(None)


def test_a_source_is_vouched_for_only_when_every_block_it_sent_matches() -> None:
    lg = ledger()
    assert not lg.vouched_for("a")  # sent nothing: no evidence either way
    lg.record(0, "a", "x")
    lg.record(1, "a", "y")
    lg.record(1, "b", "z")  # a dispute on block 1
    lg.accept_file({0: "x", 1: "y"})
    assert lg.vouched_for("a") and "b" in lg.convicted
    lg2 = ledger()
    lg2.record(0, "a", "x")
    lg2.establish(0, "other")  # convicts a
    assert not lg2.vouched_for("a")


def test_without_a_reference_the_file_cannot_be_verified() -> None:
    verdict = WholeFileCheck(None).judge("anything", {"a": 1}, {}, {})
    assert isinstance(verdict, FileUnverifiable)


def test_trace_order_prefers_disputes_then_low_reputation() -> None:
    order = trace_order({"a": 10_000_000, "b": 10_000_000, "c": 10_000_000},
                        disputes={"c": 2}, reputation={"a": 0.1, "b": 0.6})
    assert order == ["c", "a", "b"]


def test_trace_order_weighs_the_chance_of_finding_the_culprit_against_the_cost() -> None:
    # A source that sent 2 blocks probably did not send the bad one; one that sent 100 very
    # likely did, and re-fetching 100 blocks is still quick at 10 MB/s.
    order = trace_order({"tiny": 2 * 65536, "big": 100 * 65536}, {}, {},
                        refetch_rate=10_000_000)
    assert order == ["big", "tiny"]

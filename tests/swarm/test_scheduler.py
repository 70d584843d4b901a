"""The scheduling policy, from hand-made snapshots."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from slskdn.domain.swarm.decisions import (
    OVERLAY,
    SOULSEEK,
    Assign,
    Cancel,
    Decision,
    Duplicate,
    Extend,
    Negotiate,
    Rebalance,
    Release,
    Steal,
)
from slskdn.domain.swarm.range_map import RangeMap
from slskdn.domain.swarm.scheduler import plan
from slskdn.domain.swarm.snapshot import RequestView, SchedulerConfig, SourceView, SwarmSnapshot
from slskdn.domain.swarm.zones import (
    ZoneConfig,
    ZonePlan,
    bytes_for_seconds,
    plan_zones,
    whole_file,
)

D = TypeVar("D")
KIB = 1024
MIB = 1024 * 1024
BLOCK = 64 * KIB
CFG = SchedulerConfig()


def view(sid: str, state: str = "idle", rate: float = 1_000_000, kind: str = SOULSEEK,
         requests: tuple[RequestView, ...] = (), **kw: Any) -> SourceView:
    kw.setdefault("rate_measured", True)
    kw.setdefault("rate_live", True)
    return SourceView(source_id=sid, kind=kind, state=state, rate=rate,  # type: ignore[arg-type]
                      requests=requests, **kw)


def streaming(sid: str, rm: RangeMap, start: int, position: int, end: int, rate: float,
              now: float = 10.0, **kw: Any) -> SourceView:
    """A Soulseek source streaming [start, end), confirmed up to ``position``."""
    rm.assign(start, end, sid)
    if position > start:
        rm.mark_received(start, position, sid)
    req = RequestView(start, position, end, progress_at=now, first_byte_at=now - 1.0)
    return view(sid, "streaming", rate, requests=(req,), fresh=False, **kw)


def snapshot(rm: RangeMap, sources: list[SourceView], now: float = 10.0,
             zones: ZonePlan | None = None) -> SwarmSnapshot:
    return SwarmSnapshot(rm.size, rm.segments(), tuple(sources), zones or whole_file(rm.size),
                         now)


def of(kind: type[D], decisions: list[Decision]) -> list[D]:
    return [d for d in decisions if isinstance(d, kind)]


def test_the_first_ready_source_takes_the_whole_pending_file() -> None:
    rm = RangeMap(10 * MIB)
    out = plan(snapshot(rm, [view("a", "ready")]), CFG)
    assert out == [Assign("a", 0, 10 * MIB, "pending 10.0 MiB")]


def test_a_ready_source_takes_the_back_of_a_range_so_both_finish_together() -> None:
    rm = RangeMap(20 * MIB)
    a = streaming("a", rm, 0, 2 * MIB, 20 * MIB, rate=1_000_000)
    b = view("b", "ready", rate=1_000_000, first_byte_delay=0.2)
    steal = of(Steal, plan(snapshot(rm, [a, b]), CFG))[0]
    assert (steal.victim_id, steal.victim_end, steal.thief_id, steal.end) == \
        ("a", 20 * MIB, "b", 20 * MIB)
    # Equal rates: both finish together when the victim keeps half of what is left plus what
    # it delivers while the thief's first byte travels (0.2 s) and the overlap block.
    equal_finish = 2 * MIB + (1_000_000 * 0.2 + 18 * MIB + BLOCK) / 2
    assert abs(steal.new_end - equal_finish) <= BLOCK
    assert steal.new_end % BLOCK == 0
    assert steal.start == steal.new_end - BLOCK  # one overlap block for a cross-check


def test_a_faster_thief_takes_a_bigger_share() -> None:
    rm = RangeMap(20 * MIB)
    a = streaming("a", rm, 0, 0, 20 * MIB, rate=500_000)
    b = view("b", "ready", rate=2_000_000)
    steal = of(Steal, plan(snapshot(rm, [a, b]), CFG))[0]
    kept, taken = steal.new_end, 20 * MIB - steal.new_end
    assert 3.5 < taken / kept < 4.5  # 4× faster: about 4× the bytes


def test_a_tiny_tail_is_not_worth_a_new_negotiation() -> None:
    rm = RangeMap(10 * MIB)
    a = streaming("a", rm, 0, 10 * MIB - 300 * KIB, 10 * MIB, rate=2_000_000)
    b = view("b", "idle", rate=2_000_000, start_delay=1.5, fresh=False)
    assert plan(snapshot(rm, [a, b]), CFG) == []


def test_an_idle_source_negotiates_when_a_slow_range_has_much_left() -> None:
    rm = RangeMap(10 * MIB)
    a = streaming("a", rm, 0, 1 * MIB, 10 * MIB, rate=100_000)
    b = view("b", "idle", rate=1_000_000, start_delay=1.0, fresh=False)
    out = plan(snapshot(rm, [a, b]), CFG)
    assert [d.source_id for d in of(Negotiate, out)] == ["b"] and len(out) == 1


def test_fresh_sources_fan_out_up_to_the_fairness_cap() -> None:
    rm = RangeMap(50 * MIB)
    sources = [view(f"p{i}", "idle", rate=500_000) for i in range(6)]
    conservative = plan(snapshot(rm, sources), SchedulerConfig(mode="conservative"))
    assert len(of(Negotiate, conservative)) == 3
    balanced = plan(snapshot(rm, sources), SchedulerConfig(mode="balanced"))
    assert len(of(Negotiate, balanced)) == 6


def test_overlay_sources_keep_about_three_seconds_of_chunks_in_flight() -> None:
    rm = RangeMap(50 * MIB)
    o = view("o", "idle", rate=1_000_000, kind=OVERLAY, first_byte_delay=0.05)
    assigns = of(Assign, plan(snapshot(rm, [o]), CFG))
    assert 11 <= len(assigns) <= 13  # ≈ 3 s × 1 MB/s / 256 KiB
    assert all(a.end - a.start <= 256 * KIB for a in assigns)
    # Without playback they come from the back, leaving the front to Soulseek streams.
    assert max(a.end for a in assigns) == 50 * MIB


def test_an_underperforming_range_is_raced_not_killed() -> None:
    rm = RangeMap(10 * MIB)
    a = streaming("a", rm, 0, 3 * MIB, 10 * MIB, rate=200_000, verdict="stalled")
    b = view("b", "ready", rate=1_000_000)
    out = plan(snapshot(rm, [a, b]), CFG)
    race = of(Duplicate, out)[0]
    assert (race.source_id, race.of_source_id, race.start, race.end) == \
        ("b", "a", 3 * MIB, 10 * MIB)
    assert not of(Cancel, out)  # the stalled one keeps running until it loses the race
    assert any("underperforming" in d.reason or "stalled" in d.reason for d in of(Rebalance, out))


def test_a_degrading_source_gets_a_smaller_share() -> None:
    def taken(reliability: float) -> int:
        rm = RangeMap(20 * MIB)
        a = streaming("a", rm, 0, 0, 20 * MIB, rate=1_000_000)
        b = view("b", "ready", rate=1_000_000, reliability=reliability)
        return 20 * MIB - of(Steal, plan(snapshot(rm, [a, b]), CFG))[0].new_end

    assert taken(0.5) < taken(0.8) < taken(1.0)


def test_a_fast_source_streams_on_over_a_much_slower_neighbour() -> None:
    rm = RangeMap(30 * MIB)
    a = streaming("a", rm, 0, 1 * MIB, 10 * MIB, rate=800_000)
    slow = streaming("slow", rm, 10 * MIB, 10 * MIB + 64 * KIB, 30 * MIB, rate=50_000)
    fast = view("fast", "ready", rate=5_000_000)
    out = plan(snapshot(rm, [a, slow, fast]), CFG)
    cancels, steals = of(Cancel, out), of(Steal, out)
    assert [c.source_id for c in cancels] == ["slow"]
    assert steals[0].victim_id == "a" and steals[0].end == 30 * MIB  # streams on to the end
    assert cancels[0].start == 10 * MIB + 64 * KIB  # slow's bytes so far are kept


def test_classic_work_stealing_takes_the_back_half_without_cost_ranking() -> None:
    rm = RangeMap(20 * MIB)
    a = streaming("a", rm, 0, 0, 4 * MIB, rate=5_000_000)
    b = streaming("b", rm, 4 * MIB, 4 * MIB, 20 * MIB, rate=100_000)
    c = view("c", "ready", rate=1_000_000)
    steal = of(Steal, plan(snapshot(rm, [a, b, c]), SchedulerConfig(cost_based=False)))[0]
    assert steal.victim_id == "b"  # the largest remaining range, by bytes
    assert abs(steal.new_end - 12 * MIB) <= BLOCK


def test_a_quarantined_source_is_a_last_resort() -> None:
    rm = RangeMap(10 * MIB)
    shady = view("shady", "ready", quarantined=True)
    other = view("ok", "negotiating")
    assert of(Release, plan(snapshot(rm, [shady, other]), CFG))
    alone = of(Assign, plan(snapshot(rm, [shady]), CFG))
    assert alone and alone[0].source_id == "shady"


def test_playback_keeps_slow_sources_out_of_the_high_zone() -> None:
    rate = bytes_for_seconds(1, 1411)
    rm = RangeMap(200 * rate)
    zones = plan_zones(rm.size, 0, rate, 0, ZoneConfig(high_seconds=30))
    fast = view("fast", "ready", rate=5 * rate)
    slow = view("slow", "ready", rate=0.5 * rate, cost=5.0)
    out = plan(snapshot(rm, [fast, slow], zones=zones), CFG)
    by_source = {d.source_id if not isinstance(d, Steal) else d.thief_id: d for d in out
                 if isinstance(d, Assign | Steal)}
    assert by_source["fast"].start == 0
    assert by_source["slow"].start >= 30 * rate  # beyond the high zone
    assert out[0] == Rebalance("rescue: buffer 0.0 s below 5 s", rescue=True)


def test_end_game_races_a_last_overlay_chunk_held_by_a_slow_peer() -> None:
    rm = RangeMap(1 * MIB)
    rm.mark_received(0, 1 * MIB - 128 * KIB, "x")
    rm.assign(1 * MIB - 128 * KIB, 1 * MIB, "slow")
    req = RequestView(1 * MIB - 128 * KIB, 1 * MIB - 128 * KIB, 1 * MIB, 10.0, 9.0)
    slow = view("slow", "streaming", rate=20_000, kind=OVERLAY, requests=(req,))
    fast = view("fast", "idle", rate=5_000_000, kind=OVERLAY, first_byte_delay=0.05)
    race = of(Duplicate, plan(snapshot(rm, [slow, fast]), CFG))
    assert race and race[0].source_id == "fast" and race[0].of_source_id == "slow"


# --- properties ------------------------------------------------------------------------------


@st.composite
def swarm(draw: st.DrawFn) -> SwarmSnapshot:
    """A random but consistent snapshot: streaming sources own disjoint ranges."""
    size = draw(st.integers(1, 40)) * BLOCK + draw(st.integers(0, BLOCK - 1))
    rm = RangeMap(size)
    n = draw(st.integers(1, 6))
    cuts = sorted(set(draw(st.lists(st.integers(1, size - 1), max_size=n))))
    bounds = [0, *cuts, size]
    sources: list[SourceView] = []
    for i in range(n):
        sid = f"p{i}"
        kind = draw(st.sampled_from([SOULSEEK, SOULSEEK, OVERLAY]))
        rate = draw(st.floats(1_000, 5_000_000))
        state = draw(st.sampled_from(["idle", "negotiating", "ready", "streaming", "dead"]))
        common: dict[str, Any] = {"rate": rate, "kind": kind, "fresh": draw(st.booleans()),
                  "verdict": draw(st.sampled_from([None, None, "stalled"])),
                  "quarantined": draw(st.booleans()) and draw(st.booleans())}
        if state == "streaming" and i < len(bounds) - 1:
            lo, hi = bounds[i], bounds[i + 1]
            pos = draw(st.integers(lo, hi - 1))
            rm.assign(lo, hi, sid)
            if pos > lo:
                rm.mark_received(lo, pos, sid)
            req = RequestView(lo, pos, hi, 10.0, 9.0)
            sources.append(view(sid, "streaming", requests=(req,), **common))
        else:
            sources.append(view(sid, "idle" if state == "streaming" else state, **common))
    now = 10.0
    if draw(st.booleans()):
        rate = draw(st.floats(10_000, 1_000_000))
        zones = plan_zones(size, draw(st.integers(0, size - 1)), rate,
                           draw(st.integers(0, size)), ZoneConfig())
    else:
        zones = whole_file(size)
    return SwarmSnapshot(size, rm.segments(), tuple(sources), zones, now)


def new_ranges(decisions: list[Decision]) -> dict[str, int]:
    count: dict[str, int] = {}
    for d in decisions:
        sid = d.thief_id if isinstance(d, Steal) else getattr(d, "source_id", None)
        if isinstance(d, Assign | Steal | Duplicate) and sid is not None:
            count[sid] = count.get(sid, 0) + 1
    return count


@settings(max_examples=500, deadline=None)
@given(swarm(), st.sampled_from(["conservative", "balanced", "aggressive"]), st.booleans())
def test_a_soulseek_source_never_gets_two_ranges_of_a_file_at_once(
        snap: SwarmSnapshot, mode: str, cost_based: bool) -> None:
    config = SchedulerConfig(mode=mode, cost_based=cost_based)  # type: ignore[arg-type]
    decisions = plan(snap, config)
    views = {v.source_id: v for v in snap.sources}
    for sid, n in new_ranges(decisions).items():
        if views[sid].kind == SOULSEEK:
            assert n == 1, f"{sid} got {n} ranges"
            assert views[sid].state == "ready", "only a ready Soulseek source gets a range"
            assert not views[sid].requests
    for i, d in enumerate(decisions):
        if not isinstance(d, Negotiate):
            continue
        v = views[d.source_id]
        assert v.kind == SOULSEEK
        if v.state != "idle":
            # Pulled to the play head: its one stream is closed first, in the same plan.
            assert v.state == "streaming" and len(v.requests) == 1
            closed = [c for c in decisions[:i] if isinstance(c, Cancel)
                      and c.source_id == d.source_id and c.end >= v.requests[0].end]
            assert closed, f"{d.source_id} negotiates while {v.state}"
    assert all(views[s].state != "dead" for s in new_ranges(decisions))


@settings(max_examples=500, deadline=None)
@given(swarm())
def test_decisions_always_apply_cleanly_to_the_byte_accounting(snap: SwarmSnapshot) -> None:
    rm = RangeMap(snap.file_size, snap.segments)
    for d in plan(snap, CFG):
        if isinstance(d, Cancel) and d.end > d.start:
            rm.release(d.source_id, d.start, d.end)
        elif isinstance(d, Assign | Extend):
            for g0, g1 in rm.pending():
                if g0 < d.end and g1 > d.start:
                    rm.assign(max(g0, d.start), min(g1, d.end), d.source_id)
        elif isinstance(d, Steal):
            assert d.new_end < d.victim_end and d.start <= d.new_end
            rm.steal(d.victim_id, d.victim_end, d.new_end, d.thief_id, min(d.end, d.victim_end))
        elif isinstance(d, Duplicate):
            assert 0 <= d.start < d.end <= snap.file_size
    assert sum(s.size for s in rm.segments()) == snap.file_size


def test_decisions_are_deterministic() -> None:
    rm = RangeMap(20 * MIB)
    a = streaming("a", rm, 0, 0, 20 * MIB, rate=500_000)
    sources = [a, view("b", "ready"), view("c", "idle"), view("o", "idle", kind=OVERLAY)]
    snap = snapshot(rm, sources)
    assert plan(snap, CFG) == plan(replace(snap), CFG)


def test_end_game_races_a_healthy_slower_tail_too_small_to_split_well() -> None:
    # 424 KiB left at 1 MB/s; an 8 MB/s source is ready. A split leaves the slow one 168 KiB
    # (0.17 s); racing the whole tail ends in about 0.1 s.
    rm = RangeMap(20 * MIB)
    rm.assign(0, 19 * MIB, "done")
    rm.mark_received(0, 19 * MIB, "done")
    slow = streaming("slow", rm, 19 * MIB, 19 * MIB + 600 * KIB, 20 * MIB, rate=1_000_000)
    fast = view("fast", "ready", rate=8_000_000, first_byte_delay=0.05)
    out = plan(snapshot(rm, [slow, fast]), replace(CFG, endgame_race=True))
    race = of(Duplicate, out)
    assert race and (race[0].source_id, race[0].of_source_id) == ("fast", "slow")
    assert race[0].end == 20 * MIB
    assert race[0].healthy  # its loser is not kept idle afterwards (tests/swarm/test_races.py)
    assert not of(Steal, out) and not of(Cancel, out)  # the slow one runs until it loses


def test_a_ready_source_starts_at_a_frame_under_recheck_before_the_largest_gap() -> None:
    rm = RangeMap(20 * MIB)
    frame = (2 * MIB, 2 * MIB + 15_000)
    for start, end in ((0, frame[0]), (frame[1], 4 * MIB), (8 * MIB, 10 * MIB)):
        rm.assign(start, end, "x")
        rm.mark_received(start, end, "x")
    a = streaming("a", rm, 10 * MIB, 11 * MIB, 20 * MIB, rate=1_000_000)
    b = view("b", "ready")
    plain = of(Assign, plan(snapshot(rm, [a, b]), CFG))[0]
    assert plain.start == 4 * MIB  # the largest gap
    snap = replace(snapshot(rm, [a, b]), rechecks=(frame,))
    first = of(Assign, plan(snap, CFG))[0]
    assert first.start == frame[0]
    assert "re-check" in first.reason

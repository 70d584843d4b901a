"""Playback: a Soulseek source streaming later zones is pulled back to split a range next to
the play head that a slow source would deliver late."""

from __future__ import annotations

from dataclasses import replace

from slskdn.domain.swarm.decisions import SOULSEEK, Cancel, Negotiate
from slskdn.domain.swarm.range_map import RangeMap
from slskdn.domain.swarm.scheduler import plan
from slskdn.domain.swarm.snapshot import RequestView, SchedulerConfig, SourceView, SwarmSnapshot
from slskdn.domain.swarm.zones import ZoneConfig, bytes_for_seconds, plan_zones

NOW = 10.0
AUDIO = bytes_for_seconds(1, 1411)  # bytes of one second of audio


def stream(rm: RangeMap, sid: str, start: int, position: int, end: int,
           rate: float) -> SourceView:
    rm.assign(start, end, sid)
    if position > start:
        rm.mark_received(start, position, sid)
    req = RequestView(start, position, end, progress_at=NOW, first_byte_at=NOW - 2.0)
    return SourceView(source_id=sid, kind=SOULSEEK, state="streaming", rate=rate,
                      rate_measured=True, rate_live=True, requests=(req,), fresh=False,
                      start_delay=0.5, first_byte_delay=0.05)


def swarm() -> tuple[RangeMap, list[SourceView], object]:
    rm = RangeMap(400 * AUDIO)
    high_end = 30 * AUDIO
    rm.mark_received(0, 20 * AUDIO, "done")
    # "slow" must still fetch 10 s of audio at 0.5 s of audio per second: 20 s away.
    slow = stream(rm, "slow", 20 * AUDIO, 20 * AUDIO, high_end, 0.5 * AUDIO)
    # "fast" streams far past the high zone at 20× playback speed.
    fast = stream(rm, "fast", high_end, 100 * AUDIO, 400 * AUDIO, 20 * AUDIO)
    zones = plan_zones(rm.size, 0, AUDIO, 20 * AUDIO, ZoneConfig(high_seconds=30))
    return rm, [slow, fast], zones


def test_a_fast_stream_past_the_play_head_zone_is_pulled_back_to_split_a_late_range() -> None:
    rm, sources, zones = swarm()
    out = plan(SwarmSnapshot(rm.size, rm.segments(), tuple(sources), zones, NOW),  # type: ignore[arg-type]
               SchedulerConfig())
    pulled = [d for d in out if isinstance(d, Cancel) and d.source_id == "fast"]
    assert pulled and "play head" in pulled[0].reason
    assert any(isinstance(d, Negotiate) and d.source_id == "fast" for d in out)
    assert not any(isinstance(d, Cancel) and d.source_id == "slow" for d in out)


def test_without_the_option_the_stream_keeps_its_range() -> None:
    rm, sources, zones = swarm()
    out = plan(SwarmSnapshot(rm.size, rm.segments(), tuple(sources), zones, NOW),  # type: ignore[arg-type]
               replace(SchedulerConfig(), pull_to_play_head=False))
    assert not any(isinstance(d, Cancel | Negotiate) for d in out)


def seeked(fast_left_s: float) -> tuple[RangeMap, list[SourceView], object]:
    """The listener jumped back to 20 s; bytes 0–100 s were never asked for, and both sources
    stream far past the new head: "fast" ends its range ``fast_left_s`` from now."""
    rm = RangeMap(400 * AUDIO)
    fast_at = 300 * AUDIO - int(fast_left_s * 20 * AUDIO)
    fast = stream(rm, "fast", 100 * AUDIO, fast_at, 300 * AUDIO, 20 * AUDIO)
    medium = stream(rm, "medium", 300 * AUDIO, 310 * AUDIO, 400 * AUDIO, 5 * AUDIO)
    zones = plan_zones(rm.size, 20 * AUDIO, AUDIO, 20 * AUDIO, ZoneConfig(high_seconds=30))
    return rm, [fast, medium], zones


def test_a_seek_where_nobody_fetches_pulls_the_fastest_stream_to_the_new_head() -> None:
    rm, sources, zones = seeked(fast_left_s=7.5)
    out = plan(SwarmSnapshot(rm.size, rm.segments(), tuple(sources), zones, NOW),  # type: ignore[arg-type]
               SchedulerConfig())
    pulled = [d for d in out if isinstance(d, Cancel)]
    assert [(d.source_id, d.reason) for d in pulled] == [
        ("fast", "pulled to the bytes next to the play head")]
    assert any(isinstance(d, Negotiate) and d.source_id == "fast" for d in out)


def test_a_stream_about_to_end_is_left_to_get_there_itself() -> None:
    # "fast" ends its range and negotiates again (0.5 s) about when a pulled "fast" would be
    # ready: closing its stream would save nothing.
    rm, sources, zones = seeked(fast_left_s=0.05)
    out = plan(SwarmSnapshot(rm.size, rm.segments(), tuple(sources), zones, NOW),  # type: ignore[arg-type]
               SchedulerConfig())
    assert not any(isinstance(d, Cancel | Negotiate) for d in out)

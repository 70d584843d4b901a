"""A source that goes silent is noticed from its silence, and that evidence is kept.

Four holes found in the simulator's worst stalling scenarios (docs/swarm.md, session 9): a
racer's own bytes past the range it races were invisible to every later plan; a stalled peer
that lost a race was asked again at once on its old, good record; a stalled overlay peer's
queue waited 2 s to be handed back and was then refilled; a silent stream's rate was forgotten
the moment it was closed.
"""

from __future__ import annotations

from slskdn.domain.swarm.decisions import (
    OVERLAY,
    SOULSEEK,
    Assign,
    Cancel,
    Decision,
    Duplicate,
    Steal,
)
from slskdn.domain.swarm.range_map import RangeMap
from slskdn.domain.swarm.scheduler import plan
from slskdn.domain.swarm.session import SwarmSession
from slskdn.domain.swarm.snapshot import RequestView, SchedulerConfig, SourceView, SwarmSnapshot
from slskdn.domain.swarm.tracking import SourceSpec
from slskdn.domain.swarm.views import build_snapshot
from slskdn.domain.swarm.zones import whole_file
from slskdn.simulation.content import MemoryPartFile

from .recording import RecordingTransport

KIB = 1024
MIB = 1024 * KIB
BLOCK = 64 * KIB
NOW = 10.0


def snapshot(rm: RangeMap, sources: list[SourceView]) -> SwarmSnapshot:
    return SwarmSnapshot(rm.size, rm.segments(), tuple(sources), whole_file(rm.size), NOW)


def test_a_silent_racer_loses_the_bytes_it_streams_on_into() -> None:
    # "r" races slow "a" over [2, 4) MiB and took over [4, 10) MiB behind it (a slower
    # neighbour's range); it has sent nothing for 3 s. Those 6 MiB are its alone.
    rm = RangeMap(10 * MIB)
    rm.assign(0, 4 * MIB, "a")
    rm.mark_received(0, 2 * MIB, "a")
    rm.assign(4 * MIB, 10 * MIB, "r")
    a = SourceView("a", SOULSEEK, "streaming", rate=100_000, rate_measured=True, rate_live=True,
                   requests=(RequestView(0, 2 * MIB, 4 * MIB, NOW, NOW - 20.0),), fresh=False)
    r = SourceView("r", SOULSEEK, "streaming", rate=BLOCK / 3.0, rate_measured=True,
                   rate_live=True, fresh=False,
                   requests=(RequestView(2 * MIB, 2 * MIB, 10 * MIB, NOW - 3.0, NOW - 3.0,
                                         duplicate_of="a"),))
    b = SourceView("b", SOULSEEK, "ready", rate=2_000_000, rate_measured=True, fresh=False)
    out = plan(snapshot(rm, [a, r, b]), SchedulerConfig())
    taken = [d for d in out if (isinstance(d, Steal) and d.victim_id == "r")
             or (isinstance(d, Duplicate) and d.of_source_id == "r")]
    assert taken, out  # before: "r" was no run at all, so nobody could take from it


def test_a_race_of_a_peer_far_below_its_usual_rate_backs_the_loser_off() -> None:
    # 150 kB/s is only an end-game race against a 1 MB/s binder (not "far slower"), but this
    # peer usually sends 1 MB/s: it is failing, and losing must keep it idle for a while.
    rm = RangeMap(4 * MIB)
    rm.mark_received(0, 3 * MIB + 512 * KIB, "x")
    rm.assign(3 * MIB + 512 * KIB, 4 * MIB, "a")
    req = RequestView(3 * MIB + 512 * KIB, 3 * MIB + 512 * KIB, 4 * MIB, NOW, NOW - 5.0)

    def race(usual: float) -> Duplicate:
        a = SourceView("a", SOULSEEK, "streaming", rate=150_000, rate_measured=True,
                       rate_live=True, usual_rate=usual, requests=(req,), fresh=False)
        b = SourceView("b", SOULSEEK, "ready", rate=1_000_000, rate_measured=True,
                       fresh=False)
        out = plan(snapshot(rm.copy(), [a, b]), SchedulerConfig(endgame_race=True))
        races = [d for d in out if isinstance(d, Duplicate)]
        assert races, out
        return races[0]

    failing = race(usual=1_000_000)
    assert not failing.healthy and "far below its usual rate" in failing.reason
    assert race(usual=200_000).healthy  # its usual pace: an ordinary end-game race


def overlay(rm: RangeMap, silent_for: float, usual: float | None,
            queued: bool = True) -> SourceView:
    """An overlay peer three quarters through [1, 1.25) MiB with two chunks queued behind
    it, silent for ``silent_for`` seconds (its rate estimate is what that silence allows)."""
    reqs = []
    for start in (1 * MIB, 2 * MIB, 3 * MIB) if queued else (1 * MIB,):
        rm.assign(start, start + 256 * KIB, "o")
        started = start == 1 * MIB
        position = start + 192 * KIB if started else start
        if started:
            rm.mark_received(start, position, "o")
        reqs.append(RequestView(start, position, start + 256 * KIB, NOW - silent_for,
                                NOW - 2.0 if started else None))
    return SourceView("o", OVERLAY, "streaming", rate=BLOCK / silent_for, rate_measured=True,
                      rate_live=True, usual_rate=usual, requests=tuple(reqs),
                      first_byte_delay=0.05, fresh=False, data_at=NOW - silent_for)


def overlay_plan(silent_for: float, usual: float | None, queued: bool = True) -> list[Decision]:
    rm = RangeMap(20 * MIB)
    return plan(snapshot(rm, [overlay(rm, silent_for, usual, queued)]), SchedulerConfig())


def test_an_overlay_peer_silent_far_below_its_usual_rate_hands_its_queue_back_sooner() -> None:
    out = overlay_plan(0.8, usual=1_000_000)  # 80 kB/s against its usual 1 MB/s
    assert sorted(d.start for d in out if isinstance(d, Cancel)) == [2 * MIB, 3 * MIB]
    # The next plan, its queue handed back, gives it nothing new to wait behind that chunk.
    assert not [d for d in overlay_plan(0.8, 1_000_000, queued=False)
                if isinstance(d, Assign)]
    assert [d for d in overlay_plan(0.05, 1_000_000, queued=False) if isinstance(d, Assign)]
    # A peer with no record to fall from waits the full queue-silence time, as before.
    assert not [d for d in overlay_plan(0.8, usual=None) if isinstance(d, Cancel)]


def test_a_closed_silent_stream_keeps_its_source_slow_in_the_next_plans() -> None:
    size = 50 * MIB
    transport = RecordingTransport()
    session = SwarmSession(size, [SourceSpec("a", SOULSEEK, advertised_speed=8_000_000)],
                           transport, MemoryPartFile(size))
    session.start(0.0)
    session.on_ready("a", 1.0)
    (request_id, _), = transport.requests.items()
    session.on_progress(request_id, 0, (), 1.1)  # first byte, then nothing
    guessed = next(v for v in build_snapshot(session, 1.1).sources if v.source_id == "a").rate
    assert guessed > 1_000_000  # its advertised speed, discounted
    session._cancel(session.transfers[request_id], 3.1, "taken over")

    def rate(now: float) -> float:
        return next(v for v in build_snapshot(session, now).sources if v.source_id == "a").rate

    assert rate(3.2) <= BLOCK / 2.0  # under a block in 2 s: that is all it showed
    hold = session.config.failure_backoff_s
    assert rate(3.1 + hold + 0.1) == guessed  # the evidence ages out with the back-off time

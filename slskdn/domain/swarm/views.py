"""Turning a session's runtime state into the frozen snapshot the scheduler reads."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .cost import Candidate, RankedPeer, rank_peers
from .decisions import SOULSEEK
from .metrics import PeerMetrics
from .snapshot import DEGRADED_SHARE, SourceView, SwarmSnapshot
from .stall import TransferWatch, assess
from .tracking import SourceRuntime
from .zones import ZonePlan, plan_zones, whole_file

if TYPE_CHECKING:
    from .session import SwarmSession


def build_snapshot(session: SwarmSession, now: float) -> SwarmSnapshot:
    peers = sorted({src.spec.peer for src in session.sources.values()})
    metrics = {p: session.metrics.get(p).decayed(now, session.metrics.config) for p in peers}
    reputations = {p: session.reputations.score(p, now) for p in peers}
    advertised = {src.spec.peer: src.spec.advertised_speed for src in session.sources.values()}
    ranked = {r.peer_id: r for r in rank_peers(
        (Candidate(p, advertised.get(p)) for p in peers), metrics, reputations,
        session.config.costs)}
    views = tuple(source_view(session, src, ranked[src.spec.peer], metrics[src.spec.peer], now)
                  for src in session.sources.values())
    views = _backoff_yields(session, views, now)
    return SwarmSnapshot(session.file_size, session.range_map.segments(), views,
                         zone_plan(session), now, session.frames_under_recheck())


def _backoff_yields(session: SwarmSession, views: tuple[SourceView, ...],
                    now: float) -> tuple[SourceView, ...]:
    """A back-off keeps a source that just lost a race from taking work back at once while
    others do it better; with nobody healthy left (the rest dead, stalled or failing) it only
    keeps the file waiting. In one scenario a slow peer backed off for 30 s while the only
    other one stalled, and the download took twice as long as it needed."""
    if any(v.state != "dead" and v.available and not v.verdict and not v.degraded
           for v in views):
        return views
    backing_off = {sid for sid, src in session.sources.items()
                   if src.suspended is None and now < src.backoff_until}
    return tuple(replace(v, available=True)
                 if v.source_id in backing_off and v.state != "dead" else v for v in views)


def zone_plan(session: SwarmSession) -> ZonePlan:
    kbps = session.config.playback_bitrate_kbps
    if not kbps:
        return whole_file(session.file_size, session.config.zones)
    position = session.play_position
    return plan_zones(session.file_size, position, kbps * 1000.0 / 8.0,
                      session.range_map.received_until(position), session.config.zones)


def negotiation_estimate(session: SwarmSession, src: SourceRuntime,
                         metrics: PeerMetrics) -> float:
    """Seconds the source's current or next negotiation takes. A first request may wait in
    the peer's upload queue; once a transfer got through, asking again mostly costs the
    handshake, so a queue wait must not make every later range look dear (nor a fast first
    answer every later one cheap): later ones are judged by later ones, or else by the
    typical first answer of this session's peers. A request the peer said was queued is no
    sample of either (with two peers, one queued 6 s, asking the other again looked like 6 s
    and the fast peer idled while the slow one finished)."""
    first = metrics.negotiation if metrics.negotiation is not None \
        else session.config.default_negotiation_s
    asking_again = src.negotiations > (1 if src.state in ("negotiating", "queued") else 0)
    if not asking_again:
        return first
    later = [t for t, queued in zip(src.negotiation_times[1:], src.queue_waits[1:], strict=True)
             if not queued]
    if later:
        return sum(later) / len(later)
    firsts = sorted(s.negotiation_times[0] for s in session.sources.values()
                    if s.negotiation_times and not s.queue_waits[0])
    typical = firsts[len(firsts) // 2] if firsts else session.config.default_negotiation_s
    own = src.negotiation_times[0] if src.negotiation_times and not src.queue_waits[0] \
        else typical
    return min(own, typical)


def source_view(session: SwarmSession, src: SourceRuntime, ranked: RankedPeer,
                metrics: PeerMetrics, now: float) -> SourceView:
    cfg = session.config
    streaming = [t for t in src.transfers.values() if not t.verify_only]
    recent = src.recent_rate(now) if any(t.first_byte_at for t in streaming) else None
    rate = recent if recent is not None else ranked.throughput
    # Its last stream was closed far below what we would assume now (silent, most likely):
    # that evidence holds for a while, or the next plan bets on the old figure again.
    cap = src.closed_rate if recent is None and now < src.closed_rate_until else None
    closed = False
    if cap is not None and cap < DEGRADED_SHARE * rate:
        rate, closed = cap, True
    rtt = metrics.rtt if metrics.rtt is not None else cfg.default_rtt_s
    negotiation = negotiation_estimate(session, src, metrics)
    is_soulseek = src.spec.kind == SOULSEEK
    ready_at = None
    verdict = None
    if src.state in ("negotiating", "queued") and src.negotiation_started is not None:
        ready_at = src.negotiation_started + negotiation
        if src.state == "queued" or ready_at + negotiation < now:
            ready_at = None  # queued, or far overdue (queued, most likely): do not plan on it
        elif ready_at < now:  # a little late: expect it soon
            ready_at = now + 0.5 * negotiation
        v = assess(TransferWatch(src.source_id, src.negotiation_started, None), now, cfg.stall)
        verdict = v.reason if v else None
    primary = next(iter(streaming), None)  # races count: a stalled racer is stalled too
    if primary is not None:
        v = assess(primary.watch(), now, cfg.stall)
        verdict = v.reason if v else None
        silence = now - primary.progress_at
        block = cfg.scheduler.block_size
        if primary.first_byte_at is not None and silence > 2.0 * block / max(rate, 1.0) + rtt:
            # Silence is evidence: no block for Δ seconds (far longer than a block should take)
            # means the rate is below block/Δ. This lowers a stalling source's share long
            # before the stall verdict.
            rate = min(rate, block / silence)
            recent = rate  # silence is a measurement too
    reliability = min(1.0, max(0.25, 1.0 - 0.5 * (metrics.error_rate + metrics.timeout_rate)))
    return SourceView(
        source_id=src.source_id,
        kind=src.spec.kind,
        state=src.state,
        rate=rate,
        rate_measured=recent is not None or metrics.throughput is not None or closed,
        rate_live=recent is not None,
        usual_rate=metrics.throughput,
        requests=tuple(t.view() for t in streaming),
        start_delay=(negotiation + rtt) if is_soulseek else rtt,
        first_byte_delay=rtt,
        ready_at=ready_at,
        cost=ranked.cost,
        reliability=reliability,
        quarantined=ranked.quarantined,
        verdict=verdict,
        available=src.suspended is None and now >= src.backoff_until,
        fresh=src.negotiations == 0,
        timing_known=metrics.negotiation is not None,
        data_at=src.data_at if src.history else None,
    )

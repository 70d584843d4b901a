"""A swarm session: one file fetched from many sources, driven by transport callbacks.

The session owns the byte accounting (RangeMap), the integrity ledger, and the runtime state of
each source. At every event (source ready, transfer done or failed, block conviction) and at
every rebalance tick it builds a snapshot, asks the scheduler for decisions and applies them to
the transport. It reads no clock and starts no thread: the caller passes ``now`` and calls
``tick`` every ``rebalance_interval`` seconds. The actor layer wraps one session per Transfer and
turns ``decisions`` and ``observations`` into events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .applying import Applying
from .cost import CostParams
from .decisions import (
    OVERLAY,
    Cancel,
    CancelledByPeer,
    Decision,
    NegotiationTimed,
    Observation,
    QueuedByPeer,
    RangeCompleted,
    RangeServed,
    Rebalance,
    RttSampled,
    TransferErrored,
    TransferTimedOut,
)
from .frames import FRAME_SUSPECT, FrameChecking
from .integrity import IntegrityLedger, WholeFileCheck
from .metrics import MetricsBook
from .ports import BlockDigests, FormatCheck, PartFile, RangeTransport
from .racing import Racing
from .range_map import RangeMap
from .reputation import Outcome, ReputationBook
from .resume import ResumeState, apply_resume
from .scheduler import plan
from .snapshot import SchedulerConfig
from .stall import ProgressSample, StallConfig, assess
from .tracking import SourceRuntime, SourceSpec, Transfer
from .verification import RECHECKING, Verification
from .views import build_snapshot
from .zones import ZoneConfig

# Throughput samples cover at least this long: a single small read says little about speed.
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True)
class SessionConfig:
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    stall: StallConfig = field(default_factory=StallConfig)
    zones: ZoneConfig = field(default_factory=ZoneConfig)
    costs: CostParams = field(default_factory=CostParams)
    default_negotiation_s: float = 1.5  # Soulseek queue + handshake before we know the peer
    default_rtt_s: float = 0.2
    failure_backoff_s: float = 30.0
    check_timeout_s: float = 2.0  # a third opinion or spot check silent this long is re-asked
    max_trace_rounds: int = 8
    playback_bitrate_kbps: float | None = None  # playback mode when set
    frame_checks: bool = True  # judge each FLAC frame's CRC as it arrives (see frames)


@dataclass(frozen=True)
class SwarmOutcome:
    complete: bool
    verified: bool  # the whole-file check passed (False when there was nothing to check against)
    sha256: str | None
    finished_at: float | None
    delivered_bytes: int  # everything sources sent, duplicates and discarded bytes included
    wasted_bytes: int  # delivered beyond the file size
    convicted: dict[str, str]
    failure: str | None = None


class SwarmSession(Applying, Racing, Verification, FrameChecking):
    """Fetch one file of ``file_size`` bytes from ``sources`` through ``transport``."""

    def __init__(self, file_size: int, sources: Sequence[SourceSpec], transport: RangeTransport,
                 part_file: PartFile, config: SessionConfig | None = None,
                 metrics: MetricsBook | None = None, reputations: ReputationBook | None = None,
                 expected_sha256: str | None = None,
                 content_check: Callable[[], bool | None] | None = None,
                 reference_blocks: Mapping[int, str] | None = None,
                 resume: ResumeState | None = None,
                 format_check: FormatCheck | None = None) -> None:
        self.file_size = file_size
        self.config = config or SessionConfig()
        self.transport = transport
        self.part = part_file
        # FLAC frame CRCs, when the file is FLAC
        self.format_check = format_check if self.config.frame_checks else None
        self._init_frames()
        self.metrics = metrics or MetricsBook()
        self.reputations = reputations or ReputationBook()
        self.range_map = RangeMap(file_size)
        self.ledger = IntegrityLedger(file_size, self.config.scheduler.block_size,
                                      reference_blocks)
        self.sources = {s.source_id: SourceRuntime(s) for s in sources}
        self.transfers: dict[int, Transfer] = {}
        self.decisions: list[tuple[float, Decision]] = []
        self.observations: list[Observation] = []
        self.play_position = 0
        self.prefix_ready_at: dict[int, float] = {}
        self.served_ranges: dict[str, list[tuple[int, int]]] = {}  # what each source delivered
        self.outcome: SwarmOutcome | None = None
        self.end_check = WholeFileCheck(expected_sha256, self.config.max_trace_rounds,
                                        content_check)
        self._watched: list[int] = []
        self._pieces: list[tuple[str, int, int, str]] = []  # partial-block digests per source
        self._tie_breaks: dict[int, str | None] = {}  # disputed block -> third source asked
        self._spots: dict[tuple[int, int], str | None] = {}  # (block, count) -> checker
        self._spots_started = False
        # Soulseek source negotiating to check a disputed block, or blocks of a spot check
        self._verify_jobs: dict[str, int | tuple[int, int]] = {}
        self._rescue = False
        self._planning = False
        self._replan = False
        # Bytes an earlier run kept (see ``resume``): per source, EARLIER_RUN for verified ones.
        self.resumed: dict[str, int] = {}
        if resume is not None:
            peers = {s.spec.peer: sid for sid, s in self.sources.items()}
            self.resumed, again = apply_resume(self.range_map, resume, {**peers, **{
                sid: sid for sid in self.sources}})
            for start, end in again:
                self.part.discard(start, end)

    # --- driving -----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def start(self, now: float) -> None:
        self._check_complete(now)  # a resumed file may have nothing left to fetch
        self._plan(now)

    def tick(self, now: float) -> None:
        """Periodic review: stall verdicts, then a fresh plan."""
        if self.done:
            return
        for t in list(self.transfers.values()):
            if not t.timed_out and (v := assess(t.watch(), now, self.config.stall)):
                t.timed_out = True
                # Not asked again for a while once this transfer ends (it keeps running now).
                self.sources[t.source_id].backoff_until = now + self.config.failure_backoff_s
                self._observe(TransferTimedOut(self._peer(t.source_id), now))
                self.reputations.record(self._peer(t.source_id), Outcome.TIMEOUT, now)
                self._log(now, Rebalance(f"{t.source_id} underperforming: {v.reason}"))
                if t.verify_only:
                    self._third_opinion_failed(t, now, v.reason)
            elif (t.verify_only and t.request_id in self.transfers
                  and now - max(t.progress_at, self.sources[t.source_id].data_at)
                  > self.config.check_timeout_s):
                # A check is a few blocks: a checker silent this long is not worth waiting
                # for a stall verdict (a whole window); someone else is asked. Silent means no
                # byte from the source at all: an overlay check queued behind its other chunks
                # is waiting its turn, not stalled.
                self.sources[t.source_id].backoff_until = now + self.config.failure_backoff_s
                self._third_opinion_failed(t, now, f"no data for {now - t.progress_at:.1f} s")
        self._run_tie_breaks(now)
        self._check_complete(now)  # a resolved dispute may be all the end check waited for
        self._plan(now)

    def set_play_position(self, position: int, now: float) -> None:
        self.play_position = max(0, min(position, self.file_size))
        self._plan(now)

    def watch_prefix(self, size: int) -> None:
        """Record when the first ``size`` bytes are all received (time to first audio)."""
        self.prefix_ready_at.pop(size, None)
        self._watched.append(min(size, self.file_size))

    # --- transport callbacks -----------------------------------------------------------------

    def on_queued(self, source_id: str, place: int | None, now: float) -> None:
        src = self.sources[source_id]
        if src.state != "negotiating":
            return
        # A queued request waits for someone else's upload to end: minutes on the real
        # network, so the plan stops counting on this source's arrival (see views.ready_at).
        src.state = "queued"
        self._observe(QueuedByPeer(src.spec.peer, place, now))
        self._plan(now)

    def on_ready(self, source_id: str, now: float) -> None:
        src = self.sources[source_id]
        if src.state not in ("negotiating", "queued"):
            self.transport.release(source_id)  # we gave up on it meanwhile
            return
        if src.negotiation_started is not None:
            src.negotiation_times.append(now - src.negotiation_started)
            src.queue_waits.append(src.state == "queued")
            self._observe(NegotiationTimed(src.spec.peer, now - src.negotiation_started, now))
        src.state = "ready"
        if self._verify_job_ready(source_id, now):
            return
        self._plan(now)

    def on_progress(self, request_id: int, position: int, blocks: BlockDigests,
                    now: float) -> None:
        t = self.transfers.get(request_id)
        if t is None or self.done:
            return
        src = self.sources[t.source_id]
        if t.first_byte_at is None:
            if not any(o.first_byte_at for o in src.transfers.values()):
                src.stream_started(now)
            if t.alone:  # only a transfer that did not queue behind another measures the RTT
                self._observe(RttSampled(src.spec.peer, now - t.requested_at, now))
            t.first_byte_at = now
            t.progress_at = t.sample_since = now
        position = min(position, t.end)
        cut = self.transport.credited_until(request_id)
        if cut is not None and cut < position:
            # Sent before its stream was cut over bytes it skipped that were then discarded
            # (a convicted peer's): they are on disk as that peer sent them, not as this one.
            position = max(cut, t.position)
            blocks = [b for b in blocks if b[1] <= position]
        if position > t.position:
            size = position - t.position
            self.range_map.mark_received(t.position, position, t.source_id)
            t.sample_bytes += size
            if now - t.sample_since >= SAMPLE_SECONDS or position >= t.end:
                self._observe(RangeServed(src.spec.peer, position - t.sample_bytes,
                                          t.sample_bytes, now - t.sample_since, now))
                t.sample_bytes, t.sample_since = 0, now
            t.delivered += size
            served = self.served_ranges.setdefault(t.source_id, [])
            if served and served[-1][1] == t.position:
                served[-1] = (served[-1][0], position)
            else:
                served.append((t.position, position))
            t.position, t.progress_at = position, now
            t.samples.append(ProgressSample(now, t.delivered))
            src.record_bytes(size, now)
        for start, end, digest in blocks:
            block, offset = divmod(start, self.ledger.block_size)
            if offset == 0 and end == self.ledger.block_range(block)[1]:
                self._handle(self.ledger.record(block, t.source_id, digest), now)
            else:  # a partial block: checked against the verified file at the end
                self._pieces.append((t.source_id, start, end, digest))
        if self.done:
            return
        self._check_frames(t, now)
        self._recheck_suspect_frames(now)
        self._resolve_races(now)
        self._note_prefixes(now)
        self._check_complete(now)
        if not self.done and (self._replan or self._nearing_end(t, src, now)):
            # A conviction or a suspect freed bytes; or this stream's last chance to run on
            # instead of stopping (see extending).
            self._plan(now)

    def _nearing_end(self, t: Transfer, src: SourceRuntime, now: float) -> bool:
        """True once per range end when a Soulseek stream is about to reach it: a plan then
        can still extend it, while the next tick may come too late."""
        if (src.spec.kind == OVERLAY or t.duplicate_of is not None or t.verify_only
                or t.end >= self.file_size):
            return False
        rate = src.recent_rate(now)
        if not rate:
            return False
        negotiation = self.metrics.get(src.spec.peer).negotiation
        horizon = min(negotiation if negotiation is not None else self.config.default_negotiation_s,
                      self.config.scheduler.rebalance_interval)
        left = (t.end - t.position) / rate
        if left > horizon or now - t.planned_near_end < max(0.05, left / 3):
            return False
        t.planned_near_end = now
        return True

    def on_complete(self, request_id: int, now: float) -> None:
        t = self.transfers.get(request_id)
        if t is None or self.done:
            return
        peer = self._peer(t.source_id)
        if t.delivered > 0:
            self._observe(RangeCompleted(peer, t.start, t.position, now))
            self.reputations.record(peer, Outcome.SUCCESS, now)
        self._drop(t)
        if t.verify_only:
            self._checker_done(t.source_id)
        self._run_tie_breaks(now)
        self._check_complete(now)
        self._plan(now)

    def on_failed(self, source_id: str, request_id: int | None, reason: str, permanent: bool,
                  now: float) -> None:
        if self.done:
            return
        src = self.sources[source_id]
        peer = src.spec.peer
        if request_id is not None and (t := self.transfers.get(request_id)) is not None:
            self._drop(t)
        self._checker_lost(source_id)
        if reason == "cancelled by peer":
            self._observe(CancelledByPeer(peer, now))
            self.reputations.record(peer, Outcome.CANCELLED, now)
        else:
            self._observe(TransferErrored(peer, reason, now))
            self.reputations.record(peer, Outcome.FAILURE, now)
        if not src.transfers and src.state != "dead":
            src.state = "dead" if permanent else "idle"
        src.backoff_until = now + self.config.failure_backoff_s
        self._plan(now)

    # --- planning ----------------------------------------------------------------------------

    def _plan(self, now: float) -> None:
        if self._planning:
            self._replan = True
            return
        self._planning = True
        try:
            for _ in range(8):  # applying a decision can change what the next plan sees
                self._replan = False
                if self.done:
                    return
                self._reclaim()
                snapshot = build_snapshot(self, now)
                if not snapshot.zones.critical:
                    self._rescue = False
                for d in plan(snapshot, self.config.scheduler):
                    self._apply(d, now)
                self._check_stuck(now)
                if not self._replan:
                    return
        finally:
            self._planning = False

    def _check_stuck(self, now: float) -> None:
        if self.done or self.range_map.is_complete() or self.transfers:
            return
        if any(s.state in ("negotiating", "queued", "ready") for s in self.sources.values()):
            return
        suspects = [s for s in self.sources.values()
                    if s.suspended in (RECHECKING, FRAME_SUSPECT)]
        if suspects and not any(s.state != "dead" and s.suspended is None
                                for s in self.sources.values()):
            for s in suspects:  # nobody else can fetch: a suspect is better than nothing
                s.suspended = None
            self._replan = True
            return
        if any(s.state != "dead" and s.suspended is None for s in self.sources.values()):
            if any(s.backoff_until > now for s in self.sources.values() if s.state != "dead"):
                return  # a source backing off may be retried later
        else:
            self._finish(now, False, False, None, "no usable source left")
            return
        self._finish(now, False, False, None, "no source can fetch the remaining bytes")

    # --- completion ----------------------------------------------------------------------

    def _cancel(self, t: Transfer, now: float, reason: str, backoff: bool = False) -> None:
        self.transport.cancel(t.request_id, t.position)
        self.sources[t.source_id].stream_closed(t, now, self.config.scheduler.block_size,
                                                self.config.failure_backoff_s)
        self._log(now, Cancel(t.source_id, t.position, t.end, reason, backoff))
        if backoff:
            self.sources[t.source_id].backoff_until = now + self.config.failure_backoff_s
        self._drop(t)

    def _note_prefixes(self, now: float) -> None:
        for size in self._watched:
            if size not in self.prefix_ready_at and self.range_map.received_until(0) >= size:
                self.prefix_ready_at[size] = now

    def _finish(self, now: float, complete: bool, verified: bool, sha: str | None,
                failure: str | None) -> None:
        for t in list(self.transfers.values()):
            self.transport.cancel(t.request_id, t.position)
            self._drop(t)
        for src in self.sources.values():
            if src.state in ("negotiating", "queued", "ready"):
                self.transport.release(src.source_id)
                src.state = "idle"
        delivered = sum(s.delivered for s in self.sources.values())
        needed = self.file_size - sum(self.resumed.values())
        self.outcome = SwarmOutcome(complete, verified, sha, now if complete else None, delivered,
                                    max(0, delivered - needed),
                                    dict(self.ledger.convicted), failure)

    # --- small helpers -----------------------------------------------------------------------

    def _peer(self, source_id: str) -> str:
        return self.sources[source_id].spec.peer

    def _observe(self, o: Observation) -> None:
        self.observations.append(o)
        self.metrics.observe(o)

    def _log(self, now: float, d: Decision) -> None:
        self.decisions.append((now, d))

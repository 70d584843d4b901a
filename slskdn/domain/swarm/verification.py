"""Integrity inside a running session: block findings, third opinions, convictions and the
whole-file check at the end (a mixin of ``SwarmSession``; the rules live in ``integrity``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .decisions import (
    OVERLAY,
    CorruptRangeFound,
    Decision,
    Duplicate,
    Negotiate,
    Observation,
    Rebalance,
)
from .integrity import (
    BlockDisputed,
    BlockVerified,
    FileAccepted,
    FileUnverifiable,
    Finding,
    IntegrityLedger,
    SourceConvicted,
    WholeFileCheck,
)
from .metrics import MetricsBook
from .ports import PartFile, RangeTransport
from .range_map import ByteState, RangeMap
from .reputation import Outcome, ReputationBook
from .tracking import SourceRuntime, Transfer

if TYPE_CHECKING:
    from .session import SessionConfig

RECHECKING = "re-checking its bytes"
SPOT_BLOCKS = 4  # blocks fetched again per source by a spot check


class Verification:
    """Needs the session's state and helpers, declared here for the type checker."""

    if TYPE_CHECKING:
        config: SessionConfig
        file_size: int
        transport: RangeTransport
        part: PartFile
        metrics: MetricsBook
        reputations: ReputationBook
        range_map: RangeMap
        ledger: IntegrityLedger
        sources: dict[str, SourceRuntime]
        end_check: WholeFileCheck
        _tie_breaks: dict[int, str | None]
        _spots: dict[tuple[int, int], str | None]
        _spots_started: bool
        _verify_jobs: dict[str, int | tuple[int, int]]
        _pieces: list[tuple[str, int, int, str]]
        _replan: bool

        @property
        def done(self) -> bool: ...
        def _plan(self, now: float) -> None: ...
        def _request(self, source_id: str, start: int, end: int, now: float) -> Transfer: ...
        def _cancel(self, t: Transfer, now: float, reason: str) -> None: ...
        def _drop(self, t: Transfer) -> None: ...
        def _log(self, now: float, d: Decision) -> None: ...
        def _observe(self, o: Observation) -> None: ...
        def _peer(self, source_id: str) -> str: ...
        def _finish(self, now: float, complete: bool, verified: bool, sha: str | None,
                    failure: str | None) -> None: ...

    def _handle(self, findings: list[Finding], now: float) -> None:
        verified: list[BlockVerified] = []
        for f in findings:
            if isinstance(f, SourceConvicted):
                self.convict(f.source_id, f.reason, now)
            elif isinstance(f, BlockVerified):
                verified.append(f)
            elif isinstance(f, BlockDisputed):
                self._tie_break(f, now)
        for f in verified:  # after convictions, so a dissenter's bytes are never verified
            start, end = self.ledger.block_range(f.block)
            for seg in list(self.range_map.iter_segments(start, end)):
                if seg.state == ByteState.RECEIVED and seg.source in f.sources:
                    self.range_map.mark_verified(seg.start, seg.end)

    def _tie_break(self, dispute: BlockDisputed, now: float) -> None:
        """Two sources sent different bytes for one block: ask a third for it."""
        if dispute.block not in self._tie_breaks:
            self._tie_breaks[dispute.block] = None
        self._run_tie_breaks(now)

    def _run_tie_breaks(self, now: float) -> None:
        """Start third-opinion fetches for disputed blocks nobody is checking yet: from an
        overlay peer at once (requests are cheap there), else from an idle Soulseek peer,
        which must negotiate first and fetches only that block when it is ready."""
        disputed = self.ledger.disputed()
        for block, checker in list(self._tie_breaks.items()):
            if block not in disputed or checker is not None:
                continue
            parties = set(self.ledger.opinions(block))
            for src in sorted(self.sources.values(), key=lambda s: s.spec.kind != OVERLAY):
                if (src.source_id in parties or src.suspended is not None
                        or src.state == "dead" or now < src.backoff_until):
                    continue
                if src.spec.kind == OVERLAY:
                    self._verify(src.source_id, block, now)
                elif src.state == "idle":
                    src.state, src.negotiation_started = "negotiating", now
                    src.negotiations += 1
                    self._verify_jobs[src.source_id] = block
                    self.transport.negotiate(src.source_id)
                    self._log(now, Negotiate(src.source_id,
                                             f"third opinion on disputed block {block}"))
                else:
                    continue
                self._tie_breaks[block] = src.source_id
                break

    def _verify(self, source_id: str, block: int, now: float) -> None:
        start, end = self.ledger.block_range(block)
        parties = ",".join(sorted(self.ledger.opinions(block)))
        t = self._request(source_id, start, end, now)
        t.verify_only, t.duplicate_of = True, "verify"  # a check, never a range owner
        self._log(now, Duplicate(source_id, parties, start, end,
                                 "third opinion on a disputed block"))

    # --- spot checks -------------------------------------------------------------------------

    def _start_spot_checks(self, now: float) -> bool:
        """The whole file failed its check and no dispute explains it. Before re-fetching whole
        sources (group testing, below), fetch the last few blocks of each source's largest
        unverified range again from someone else: cheap (one short request per source, all
        at once), and a copy that differs from some offset on (a different encode or edit of
        the same size, the common case) differs there. A mismatch is a dispute, which a third
        opinion settles at once; if nothing differs, those blocks are verified and group
        testing follows as before. Returns whether any check is under way."""
        if self._spots_started:
            return False
        self._spots_started = True
        for key in self._spot_candidates():
            self._spots[key] = None
        return self._waiting_for_spots(now)

    def _spot_candidates(self) -> list[tuple[int, int]]:
        """(first block, count): the last blocks of each source's largest unverified range,
        not checked yet."""
        out = []
        for sid in sorted(self.sources):
            if sid in self.ledger.convicted:
                continue
            ranges = self.range_map.ranges(ByteState.RECEIVED, sid)
            if not ranges:
                continue
            whole = self.ledger.whole_blocks(*max(ranges, key=lambda r: (r[1] - r[0], r)))
            if len(whole):
                n = min(SPOT_BLOCKS, len(whole))
                if (whole[-n], n) not in self._spots:
                    out.append((whole[-n], n))
        return out

    def _spot_on_release(self, source_id: str, now: float) -> bool:
        """A ready Soulseek source has nothing left worth a range: its connection is open
        anyway, so it spot-checks another source's bytes before it goes (free, and a culprit
        found now is re-fetched while the others still stream)."""
        src = self.sources[source_id]
        if src.suspended is not None or src.spec.kind == OVERLAY:
            return False
        for key in self._spot_candidates():
            first, count = key
            if any(source_id in self.ledger.opinions(b) for b in range(first, first + count)):
                continue
            self._spots[key] = source_id
            self._verify_span(source_id, key, now,
                              "spot check by a peer with nothing left worth a range")
            return True
        return False

    def _run_spot_checks(self, now: float) -> None:
        for key, checker in list(self._spots.items()):
            if checker is not None:
                continue
            first, count = key
            parties = {p for b in range(first, first + count) for p in self.ledger.opinions(b)}
            busy = {c for c in (*self._spots.values(), *self._tie_breaks.values())
                    if c not in (None, "done")}
            for src in sorted(self.sources.values(),
                              key=lambda s: (s.spec.kind != OVERLAY, s.source_id)):
                sid = src.source_id
                if (sid in parties or sid in busy or src.suspended is not None
                        or src.state == "dead" or now < src.backoff_until):
                    continue
                if src.spec.kind == OVERLAY:
                    self._verify_span(sid, key, now)
                elif src.state == "idle":
                    src.state, src.negotiation_started = "negotiating", now
                    src.negotiations += 1
                    self._verify_jobs[sid] = key
                    self.transport.negotiate(sid)
                    self._log(now, Negotiate(sid, f"spot check of blocks {first}-"
                                                  f"{first + count - 1}"))
                else:
                    continue
                self._spots[key] = sid
                break
            else:
                self._spots[key] = "done"  # nobody can check it: group testing will

    def _verify_span(self, source_id: str, key: tuple[int, int], now: float,
                     why: str = "spot check after a failed whole-file check") -> None:
        first, count = key
        start = self.ledger.block_range(first)[0]
        end = self.ledger.block_range(first + count - 1)[1]
        owners = ",".join(sorted({p for b in range(first, first + count)
                                  for p in self.ledger.opinions(b)}))
        t = self._request(source_id, start, end, now)
        t.verify_only, t.duplicate_of = True, "verify"
        self._log(now, Duplicate(source_id, owners, start, end, why))

    def _waiting_for_spots(self, now: float) -> bool:
        self._run_spot_checks(now)
        return any(c not in (None, "done") for c in self._spots.values())

    def _verify_job_ready(self, source_id: str, now: float) -> bool:
        """A Soulseek source negotiated for a check is ready: fetch what it was asked for."""
        job = self._verify_jobs.pop(source_id, None)
        if isinstance(job, int) and job in self.ledger.disputed():
            self._verify(source_id, job, now)
            return True
        if isinstance(job, tuple) and self._spots.get(job) == source_id:
            self._verify_span(source_id, job, now)
            return True
        return False

    def _checker_done(self, source_id: str) -> None:
        for block, checker in list(self._tie_breaks.items()):
            if checker == source_id:
                self._tie_breaks[block] = "done"  # asked once; the end check decides
        for key, checker in list(self._spots.items()):
            if checker == source_id:
                self._spots[key] = "done"

    def _checker_lost(self, source_id: str) -> None:
        """A check that will not come: ask someone else."""
        self._verify_jobs.pop(source_id, None)
        for block, checker in list(self._tie_breaks.items()):
            if checker == source_id:
                self._tie_breaks[block] = None
        for key, checker in list(self._spots.items()):
            if checker == source_id:
                self._spots[key] = None

    def _waiting_for_third_opinion(self, now: float) -> bool:
        """Is a third opinion on its way, or will a checker be free for it soon? (Sources busy
        with spot checks are; re-fetching a whole group of suspects instead costs far more.)"""
        self._run_tie_breaks(now)
        disputed = self.ledger.disputed()
        open_blocks = [b for b, c in self._tie_breaks.items() if b in disputed and c != "done"]
        if any(self._tie_breaks[b] is not None for b in open_blocks):
            return True
        for block in open_blocks:
            parties = set(self.ledger.opinions(block))
            if any(s.source_id not in parties and s.suspended is None
                   and now >= s.backoff_until and self._free_soon(s, now)
                   for s in self.sources.values()):
                return True  # busy now (a spot check, a negotiation): asked when it is free
        return False

    def _free_soon(self, src: SourceRuntime, now: float) -> bool:
        """Busy with a transfer or a negotiation that should end within seconds (a source
        stuck in a peer's queue is not worth waiting for)."""
        if src.state in ("ready", "streaming"):
            return True
        if src.state in ("negotiating", "queued") and src.negotiation_started is not None:
            limit = 2.0 * self.config.default_negotiation_s + self.config.check_timeout_s
            return now - src.negotiation_started < limit
        return False

    def _third_opinion_failed(self, t: Transfer, now: float, reason: str) -> None:
        """A third opinion (or spot check) that does not come: ask someone else."""
        self._cancel(t, now, f"check too slow: {reason}")
        self._checker_lost(t.source_id)
        self._run_tie_breaks(now)
        self._run_spot_checks(now)

    def _tie_break_pending(self) -> bool:
        """Is a third opinion on its way, or can one still be asked for?"""
        disputed = self.ledger.disputed()
        return any(b in disputed for b in self._tie_breaks)

    def convict(self, source_id: str, reason: str, now: float) -> None:
        """The source sent wrong bytes: stop using it and fetch its unverified bytes again."""
        src = self.sources[source_id]
        if src.state == "dead" and src.suspended and src.suspended.startswith("convicted"):
            return
        self.ledger.convict(source_id, None, reason)
        self._observe_corrupt(source_id, now)
        for t in list(src.transfers.values()):
            self.transport.cancel(t.request_id, t.position)
            self._drop(t)
        if src.state in ("negotiating", "queued", "ready"):
            self.transport.release(source_id)
        src.state, src.suspended = "dead", f"convicted: {reason}"
        wrong = self.range_map.ranges(ByteState.RECEIVED, source_id)
        for start, end in wrong:
            self.part.discard(start, end)
        self.range_map.invalidate(source_id)
        self._log(now, Rebalance(f"{source_id} convicted ({reason}): "
                                 f"{sum(e - s for s, e in wrong)} bytes to fetch again"))
        # A source suspended while its bytes were re-checked is likely innocent now that the
        # culprit is found; it may be needed to fetch the culprit's bytes again.
        for other in self.sources.values():
            if other.suspended == RECHECKING:
                other.suspended = None
        self._replan = True

    def _observe_corrupt(self, source_id: str, now: float) -> None:
        peer = self._peer(source_id)
        wrong = self.range_map.ranges(ByteState.RECEIVED, source_id)
        start, end = (wrong[0][0], wrong[-1][1]) if wrong else (0, 0)
        self._observe(CorruptRangeFound(peer, start, end, now))
        self.reputations.record(peer, Outcome.CORRUPT, now)

    def _check_complete(self, now: float) -> None:
        """Every byte is here: check the whole file, trace a failure to a source."""
        if self.done or not self.range_map.is_complete():
            return
        sha = self.part.sha256()
        if self.end_check.has_reference and self.end_check.passes(sha) is False:
            if self._tie_break_pending() and self._waiting_for_third_opinion(now):
                return  # a third opinion will convict someone and re-open their bytes
            if not self._tie_break_pending() and (self._start_spot_checks(now)
                                                  or self._waiting_for_spots(now)):
                return  # a spot check may find the culprit without re-fetching whole sources
        unverified = {sid: self.range_map.bytes_in(ByteState.RECEIVED, sid)
                      for sid in self.sources if sid not in self.ledger.convicted}
        disputes = {sid: self.ledger.disputes_of(sid) for sid in self.sources}
        reputation = {sid: self.reputations.score(self._peer(sid), now) for sid in self.sources}
        rates = {sid: 0.0 if s.state == "dead" else self.metrics.get(s.spec.peer).throughput
                 or 0.0 for sid, s in self.sources.items()}
        verdict = self.end_check.judge(sha, unverified, disputes, reputation,
                                       len(self.ledger.convicted),
                                       refetch_rate=sum(rates.values()), rates=rates)
        if isinstance(verdict, FileUnverifiable):
            self._finish(now, not self.end_check.has_reference, False, sha,
                         verdict.reason if self.end_check.has_reference else None)
            return
        if isinstance(verdict, FileAccepted):
            self.range_map.mark_verified(0, self.file_size)
            self._handle(self.ledger.accept_file(self.part.block_digests(self.ledger.block_size)),
                         now)
            for sid, start, end, digest in self._pieces:
                if sid not in self.ledger.convicted and digest != self.part.digest(start, end):
                    self.convict(sid, "sent bytes that differ from the verified file", now)
            fixed_by = verdict.convict
            if fixed_by and fixed_by not in self.ledger.convicted:
                if self.ledger.vouched_for(fixed_by):
                    # What it sent hashes to the verified file: the fix came from elsewhere
                    # (another source convicted meanwhile, bytes on disk that were not its).
                    self._log(now, Rebalance(f"{fixed_by} not blamed: the bytes it sent match "
                                             "the verified file"))
                else:
                    self.convict(fixed_by, "replacing its bytes fixed the file", now)
            self._finish(now, True, True, sha, None)
            return
        for sid in verdict.cleared:
            if self.sources[sid].suspended == RECHECKING:
                self.sources[sid].suspended = None
        refetch = 0
        for sid in verdict.suspects:
            suspect = self.sources[sid]
            for t in list(suspect.transfers.values()):
                self._cancel(t, now, "its bytes are being re-checked")
            suspect.suspended = RECHECKING
            for start, end in self.range_map.ranges(ByteState.RECEIVED, sid):
                self.part.discard(start, end)
                refetch += end - start
            self.range_map.invalidate(sid)
        self._log(now, Rebalance(f"whole-file check failed: fetching the {refetch} unverified "
                                 f"bytes of {', '.join(verdict.suspects)} from others"))
        self._plan(now)


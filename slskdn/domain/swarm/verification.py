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

RECHECKING = "re-checking its bytes"


class Verification:
    """Needs the session's state and helpers, declared here for the type checker."""

    if TYPE_CHECKING:
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
        _verify_jobs: dict[str, int]
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

    def _waiting_for_third_opinion(self, now: float) -> bool:
        self._run_tie_breaks(now)
        disputed = self.ledger.disputed()
        return any(b in disputed and c not in (None, "done") for b, c in self._tie_breaks.items())

    def _third_opinion_failed(self, t: Transfer, now: float, reason: str) -> None:
        """A third opinion that does not come: ask someone else."""
        self._cancel(t, now, f"third opinion too slow: {reason}")
        for block, checker in list(self._tie_breaks.items()):
            if checker == t.source_id:
                self._tie_breaks[block] = None
        self._run_tie_breaks(now)

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
            self.transport.cancel(t.request_id)
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
        if (self.end_check.has_reference and self.end_check.passes(sha) is False
                and self._tie_break_pending() and self._waiting_for_third_opinion(now)):
            return  # a third opinion will convict someone and re-open their bytes
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
            if verdict.convict and verdict.convict not in self.ledger.convicted:
                self.convict(verdict.convict, "replacing its bytes fixed the file", now)
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


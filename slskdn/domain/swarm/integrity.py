"""Integrity: which bytes are proven right, and which source sent wrong ones.

The file is cut into aligned blocks. Whenever a source delivers a whole block, the data path hashes
it and the ledger records that source's *opinion* of the block. A block becomes *established*
(verified) when

- it matches a trusted reference digest (an overlay manifest), or
- ``quorum`` independent sources agree and nobody disagrees, or
- several opinions disagree and one digest has at least ``quorum`` votes and strictly more than
  any other (majority), or
- the whole file passed its end check (SHA-256 or the FLAC STREAMINFO MD5): then every block of
  the file as assembled is right.

A source whose opinion differs from an established block, or that sent two different versions of
one block, is *convicted*: its opinions stop counting and the caller invalidates its bytes.
Two sources that disagree with no majority leave the block *disputed* until a third opinion or
the end check decides. When the end check fails and no dispute explains it, ``trace_order`` says
which source to re-check first: the caller re-fetches that source's unverified bytes from others
and checks the file again; if it then passes, the replaced bytes were wrong and that source is
convicted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class BlockVerified:
    block: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class BlockDisputed:
    block: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class SourceConvicted:
    source_id: str
    block: int | None
    reason: str


Finding = BlockVerified | BlockDisputed | SourceConvicted


class IntegrityLedger:
    """Block opinions per source, established digests and convictions for one file."""

    def __init__(self, file_size: int, block_size: int,
                 reference: Mapping[int, str] | None = None, quorum: int = 2) -> None:
        if block_size <= 0 or file_size <= 0:
            raise ValueError("file and block size must be positive")
        self.file_size = file_size
        self.block_size = block_size
        self.quorum = quorum
        self._opinions: dict[int, dict[str, str]] = {}
        self._truth: dict[int, str] = dict(reference or {})
        self._has_reference = reference is not None
        self._disputed: set[int] = set()
        self._convicted: dict[str, str] = {}

    # --- geometry ----------------------------------------------------------------------------

    @property
    def block_count(self) -> int:
        return -(-self.file_size // self.block_size)

    def block_range(self, block: int) -> tuple[int, int]:
        start = block * self.block_size
        return start, min(start + self.block_size, self.file_size)

    def whole_blocks(self, start: int, end: int) -> range:
        """Blocks lying entirely inside [start, end)."""
        first = -(-start // self.block_size)
        last = end // self.block_size
        if end == self.file_size:
            last = self.block_count
        return range(first, max(first, last))

    # --- queries -----------------------------------------------------------------------------

    @property
    def convicted(self) -> Mapping[str, str]:
        """Convicted source ids with the reason."""
        return dict(self._convicted)

    def is_established(self, block: int) -> bool:
        return block in self._truth

    def established(self) -> set[int]:
        return set(self._truth)

    def disputed(self) -> set[int]:
        return set(self._disputed)

    def opinions(self, block: int) -> dict[str, str]:
        return dict(self._opinions.get(block, {}))

    def vouched_for(self, source: str) -> bool:
        """Whether ``source`` sent whole blocks and each matches its established digest."""
        mine = [(b, d) for b, ops in self._opinions.items() if (d := ops.get(source))]
        return bool(mine) and all(self._truth.get(b) == d for b, d in mine)

    def disputes_of(self, source: str) -> int:
        return sum(1 for b in self._disputed if source in self._opinions.get(b, {}))

    # --- evidence ----------------------------------------------------------------------------

    def record(self, block: int, source: str, digest: str) -> list[Finding]:
        """``source`` sent ``digest`` for ``block``."""
        if source in self._convicted:
            return []
        opinions = self._opinions.setdefault(block, {})
        previous = opinions.get(source)
        if previous is not None and previous != digest:
            return self.convict(source, block, "sent two different versions of one block")
        opinions[source] = digest
        truth = self._truth.get(block)
        if truth is not None:
            if digest != truth:
                return self.convict(source, block, "sent bytes that differ from verified content")
            return []
        return self._evaluate(block)

    def establish(self, block: int, digest: str, why: str = "verified content") -> list[Finding]:
        """``digest`` is known to be right for ``block``; dissenters are convicted."""
        self._truth[block] = digest
        self._disputed.discard(block)
        findings: list[Finding] = []
        agreeing = tuple(sorted(s for s, d in self._opinions.get(block, {}).items()
                                if d == digest))
        findings.append(BlockVerified(block, agreeing))
        for source, d in list(self._opinions.get(block, {}).items()):
            if d != digest and source not in self._convicted:
                findings.extend(self.convict(source, block, f"sent bytes that differ from {why}"))
        return findings

    def accept_file(self, block_digests: Mapping[int, str]) -> list[Finding]:
        """The assembled file passed its whole-file check: each of its blocks is right."""
        findings: list[Finding] = []
        for block, digest in block_digests.items():
            if self._truth.get(block) != digest:
                findings.extend(self.establish(block, digest, "the verified file"))
        return findings

    def convict(self, source: str, block: int | None, reason: str) -> list[Finding]:
        if source in self._convicted:
            return []
        self._convicted[source] = reason
        findings: list[Finding] = [SourceConvicted(source, block, reason)]
        # Its opinions no longer count: disputes it was part of may now be decided.
        for b, opinions in self._opinions.items():
            if source in opinions:
                del opinions[source]
                if b in self._disputed:
                    self._disputed.discard(b)
                    if b not in self._truth:
                        findings.extend(self._evaluate(b))
        return findings

    def _evaluate(self, block: int) -> list[Finding]:
        opinions = self._opinions.get(block, {})
        votes = Counter(opinions.values())
        if not votes:
            return []
        ranked = votes.most_common()
        top_digest, top = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        if top >= self.quorum and top > runner_up:
            why = "the agreeing sources" if runner_up == 0 else "the majority of sources"
            return self.establish(block, top_digest, why)
        if len(ranked) > 1 and block not in self._disputed:
            self._disputed.add(block)
            return [BlockDisputed(block, tuple(sorted(opinions)))]
        return []


def trace_order(unverified_bytes: Mapping[str, int], disputes: Mapping[str, int],
                reputation: Mapping[str, float], block_size: int = 64 * 1024,
                refetch_rate: float = 1e6, round_overhead_s: float = 1.5,
                bad_block_share: float = 0.05) -> list[str]:
    """Which source to re-check first after a failed whole-file check.

    Sources in disputes come first (they are the likeliest culprits), then the least reputable.
    Among the rest, the order maximises the chance per second of finding the culprit: a source
    that delivered n blocks sent at least one bad block with probability 1 − (1 − q)ⁿ if it is
    the corrupt one (q = ``bad_block_share``), and re-checking it costs a round
    (``round_overhead_s``: new negotiations) plus n blocks at ``refetch_rate``.
    """
    def value(s: str) -> float:
        n = max(1, unverified_bytes[s] // block_size)
        chance = 1.0 - (1.0 - bad_block_share) ** n
        return chance / (round_overhead_s + n * block_size / max(refetch_rate, 1.0))

    candidates: Iterable[str] = (s for s, n in unverified_bytes.items() if n > 0)
    # Reputation is compared in coarse steps: a small difference is noise, not evidence.
    return sorted(candidates, key=lambda s: (-disputes.get(s, 0),
                                             round(reputation.get(s, 0.5), 1), -value(s), s))


# --- the end check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FileAccepted:
    """The whole file is right. ``convict`` is the source whose replaced bytes fixed it."""

    convict: str | None


@dataclass(frozen=True)
class RecheckSource:
    """Fetch the suspects' unverified bytes again from other sources, then check again."""

    suspects: tuple[str, ...]
    cleared: tuple[str, ...]  # the previous suspects: replacing their bytes did not fix it


@dataclass(frozen=True)
class FileUnverifiable:
    reason: str


EndVerdict = FileAccepted | RecheckSource | FileUnverifiable


class WholeFileCheck:
    """Decides what to do when every byte has arrived (the FLAC MD5 / SHA-256 check).

    A failed check is traced by group testing: the unverified bytes of a group of suspects
    (about half of all unverified bytes, likeliest culprits first) are fetched again from the
    other sources. If the file then passes, the culprit was in the group (its block digests
    now differ from the verified file, which convicts it; a group of one is convicted by the
    fix itself, unless the digests of what it sent match the verified file: then the fix came
    from elsewhere, e.g. a source convicted meanwhile); if not, the group is cleared and the
    rest is split the same way. Each round
    costs new negotiations, so halving needs far fewer rounds than testing one source at a
    time (⌈log₂ n⌉ instead of up to n), and any disagreement seen while re-fetching becomes
    a dispute that a third opinion settles at once.
    """

    def __init__(self, expected_sha256: str | None, max_rounds: int = 8,
                 content_check: Callable[[], bool | None] | None = None) -> None:
        self.expected = expected_sha256
        # Without a known SHA-256, a check of the content itself (FLAC: the decoded audio
        # against STREAMINFO's MD5), done by an adapter: True, False, or None (cannot tell).
        self.content_check = content_check
        self._checked: tuple[str, bool | None] | None = None
        self.max_rounds = max_rounds
        self.suspects: tuple[str, ...] = ()
        self.cleared: set[str] = set()
        self.rounds = 0
        self._convictions_at_recheck = 0

    @property
    def has_reference(self) -> bool:
        return self.expected is not None or self.content_check is not None

    def passes(self, sha256: str) -> bool | None:
        """Whether the assembled file is right; None when nothing can tell."""
        if self.expected is not None:
            return sha256 == self.expected
        if self.content_check is None:
            return None
        if self._checked is None or self._checked[0] != sha256:
            self._checked = (sha256, self.content_check())  # decoding is costly: once per content
        return self._checked[1]

    def judge(self, sha256: str, unverified_bytes: Mapping[str, int],
              disputes: Mapping[str, int], reputation: Mapping[str, float],
              convictions: int = 0, refetch_rate: float = 1e6,
              rates: Mapping[str, float] | None = None) -> EndVerdict:
        """``convictions`` counts sources convicted so far in the session: if another source
        was convicted while a group was re-checked, the fix cannot be pinned on the group.
        ``rates`` (bytes/s, zero for a dead source) keep half the capacity out of a group."""
        passed = self.passes(sha256)
        if passed is None:
            return FileUnverifiable("no reference digest to check the file against")
        previous, self.suspects = self.suspects, ()
        if passed:
            pinned = (len(previous) == 1 and convictions == self._convictions_at_recheck)
            return FileAccepted(previous[0] if pinned else None)
        self.cleared.update(previous)
        candidates = {s: n for s, n in unverified_bytes.items() if s not in self.cleared}
        order = trace_order(candidates, disputes, reputation, refetch_rate=refetch_rate)
        if not order or self.rounds >= self.max_rounds:
            return FileUnverifiable("whole-file check failed and no source explains it")
        self.rounds += 1
        self.suspects = self._group(order, candidates, disputes, rates or {})
        self._convictions_at_recheck = convictions
        return RecheckSource(self.suspects, previous)

    @staticmethod
    def _group(order: list[str], unverified: Mapping[str, int], disputes: Mapping[str, int],
               rates: Mapping[str, float]) -> tuple[str, ...]:
        """The likeliest suspects holding about half of the unverified bytes, without taking
        more than half of the live sources' rate out of the swarm (someone must fetch the bytes
        again). A disputed source is tested alone: it is the prime suspect."""
        if disputes.get(order[0], 0) or len(order) == 1:
            return (order[0],)
        half = sum(unverified[s] for s in order) / 2
        rate_budget = sum(rates.values()) / 2
        group: list[str] = [order[0]]
        held, rate_out = unverified[order[0]], rates.get(order[0], 0.0)
        for s in order[1:-1]:  # never everyone
            if held >= half:
                break
            if rate_out + rates.get(s, 0.0) > rate_budget:
                continue
            group.append(s)
            held += unverified[s]
            rate_out += rates.get(s, 0.0)
        return tuple(group)

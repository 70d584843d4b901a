"""Probing candidates: which copies to probe, and what the probes say about them. Pure.

Name and size are what a peer *claims*; a probe fetches two ranges of its copy — the first
32 KiB and 32 KiB around the middle (``probe_ranges``) — and hashes them. Copies whose probes
agree are treated as one file; a copy that differs (another edit, encode or tagging of a file
that happens to have the same name and size) forms a group of its own. The head catches
different tags and headers, the middle different audio; a difference elsewhere is left to the
swarm's own checks (overlapping blocks, a FLAC's audio MD5).

Probes cost the peers uploads and us negotiations, so a ``ProbeBudget`` bounds them: at most
``probes_per_peer`` probes and ``bytes_per_peer`` bytes per peer per search (counting what was
``spent`` before), at most ``offers_per_group`` probes per group, only the ``groups`` best
groups. Offers left out, or whose probe failed, stay *unconfirmed*: ``refine`` keeps them in
an unconfirmed group of their file (with the failure reasons), ranked after every confirmed
group and never used as a download source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from slskdn.domain.candidates import (
    CandidateGroup,
    Offer,
    file_name,
    order_offers,
    rank_groups,
)

PROBE_BYTES = 32 * 1024


def probe_ranges(size: int) -> tuple[tuple[int, int], ...]:
    """The ranges probed in a ``size``-byte file: [0, 32 KiB), then up to 32 KiB centred on
    the middle (never overlapping the first). A file of at most 32 KiB is probed whole."""
    if size <= 0:
        raise ValueError(f"cannot probe a file of {size} bytes")
    head = (0, min(PROBE_BYTES, size))
    if size <= PROBE_BYTES:
        return (head,)
    length = min(PROBE_BYTES, size - PROBE_BYTES)
    start = min(max(PROBE_BYTES, size // 2 - PROBE_BYTES // 2), size - length)
    return (head, (start, start + length))


@dataclass(frozen=True)
class ProbeBudget:
    """Bounds on probing for one search. Defaults: 2 probes (≤ 128 KiB) per peer, 6 offers
    per group, the 3 best groups."""

    probes_per_peer: int = 2
    bytes_per_peer: int = 4 * PROBE_BYTES
    offers_per_group: int = 6
    groups: int = 3

    def __post_init__(self) -> None:
        for name in ("probes_per_peer", "bytes_per_peer", "offers_per_group", "groups"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"probe budget: {name} must be a whole number ≥ 0, not {value!r}")


@dataclass(frozen=True)
class PeerSpend:
    """What probing has cost one peer so far in this search."""

    probes: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class ProbeRequest:
    """Probe ``ranges`` of ``path`` (``size`` bytes) at ``username``."""

    username: str
    path: str
    size: int
    ranges: tuple[tuple[int, int], ...]

    @property
    def cost(self) -> int:
        return sum(b - a for a, b in self.ranges)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.username, self.path, self.size)


@dataclass(frozen=True)
class ProbePlan:
    requests: tuple[ProbeRequest, ...]
    skipped: tuple[tuple[Offer, str], ...]  # offers of the probed groups left out, and why
    spent: Mapping[str, PeerSpend] = field(default_factory=dict)  # per peer, after this plan


@dataclass(frozen=True)
class ProbeResult:
    """What probing one offer gave: the SHA-256 of each range, or why it failed."""

    username: str
    path: str
    size: int
    digests: tuple[str, ...] | None
    reason: str = ""
    seconds: float = 0.0  # how long it took (queue wait included)

    @property
    def ok(self) -> bool:
        return self.digests is not None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.username, self.path, self.size)


def probe_order(offers: Iterable[Offer]) -> list[Offer]:
    """Who to probe first: a free slot (an answer now, not after a queue), a short queue,
    then speed."""
    return sorted(offers, key=lambda o: (not o.free_slot, o.queue_length, -o.speed,
                                         o.username, o.path))


def plan_probes(
    groups: Sequence[CandidateGroup],
    budget: ProbeBudget | None = None,
    spent: Mapping[str, PeerSpend] | None = None,
    first: Offer | None = None,
) -> ProbePlan:
    """The probes to run for the ``budget.groups`` best unconfirmed groups, within budget.

    Groups are served best first, so a peer's budget goes to the file most likely chosen.
    An offer is probed at most once per plan; ``spent`` carries what earlier plans of the
    same search cost each peer. ``first`` (the copy a user named: the one the others must
    match) is planned before the rest of its group, whatever the probe order says.
    """
    budget = budget or ProbeBudget()
    spend = dict(spent or {})
    requests: list[ProbeRequest] = []
    skipped: list[tuple[Offer, str]] = []
    planned: set[tuple[str, str, int]] = set()
    candidates = [g for g in rank_groups(groups) if not g.confirmed][: budget.groups]
    for group in candidates:
        in_group = 0
        order = probe_order(group.offers)
        if first is not None and first in order:
            order.remove(first)
            order.insert(0, first)
        for offer in order:
            if offer.key in planned:
                continue
            request = ProbeRequest(offer.username, offer.path, offer.size,
                                   probe_ranges(offer.size))  # fmt: skip
            peer = spend.get(offer.username, PeerSpend())
            if in_group >= budget.offers_per_group:
                skipped.append((offer, f"group cap: {budget.offers_per_group} probes per group"))
            elif peer.probes + 1 > budget.probes_per_peer:
                skipped.append((offer, f"peer budget: {peer.probes} of "
                                       f"{budget.probes_per_peer} probes used"))
            elif peer.bytes + request.cost > budget.bytes_per_peer:
                skipped.append((offer, f"peer budget: {peer.bytes} of {budget.bytes_per_peer} "
                                       f"bytes used, this probe needs {request.cost}"))
            else:
                requests.append(request)
                planned.add(offer.key)
                spend[offer.username] = PeerSpend(peer.probes + 1, peer.bytes + request.cost)
                in_group += 1
    return ProbePlan(tuple(requests), tuple(skipped), spend)


def refine(groups: Iterable[CandidateGroup], results: Iterable[ProbeResult]
           ) -> list[CandidateGroup]:
    """Split each unconfirmed group by its probes, best group first.

    Offers whose probes returned the same digests form one confirmed group; offers not
    probed or whose probe failed form the file's unconfirmed group (``failures`` says why).
    Groups already confirmed pass through unchanged.
    """
    by_key = {r.key: r for r in results}
    refined: list[CandidateGroup] = []
    for group in groups:
        if group.confirmed:
            refined.append(group)
            continue
        confirmed: dict[tuple[str, ...], list[Offer]] = {}
        rest: list[Offer] = []
        failures: list[tuple[str, str]] = []
        for offer in group.offers:
            result = by_key.get(offer.key)
            if result is not None and result.digests is not None:
                confirmed.setdefault(result.digests, []).append(offer)
                continue
            rest.append(offer)
            if result is not None:
                failures.append((offer.username, result.reason or "probe failed"))
        for digests, offers in confirmed.items():
            refined.append(CandidateGroup(group.name, group.size, order_offers(offers), digests))
        if rest:
            refined.append(CandidateGroup(group.name, group.size, order_offers(rest),
                                          failures=tuple(failures)))  # fmt: skip
    return rank_groups(refined)


def copies_of(wanted: Offer, groups: Iterable[CandidateGroup]) -> CandidateGroup:
    """The sources for the copy a user named: the confirmed group holding ``wanted`` (the
    peers whose probes match its probe), or ``wanted`` alone when its own probe failed or was
    not made — with nothing to compare against, no other copy is trusted."""
    for group in groups:
        if group.confirmed and wanted in group.offers:
            return group
    return CandidateGroup(file_name(wanted.path), wanted.size, (wanted,))


def left_out(chosen: CandidateGroup, groups: Iterable[CandidateGroup],
             skipped: Iterable[tuple[Offer, str]] = ()) -> dict[str, str]:
    """Peers offering ``chosen``'s file that are not among its sources, and why."""
    sources = {o.username for o in chosen.offers}
    why: dict[str, str] = {}
    not_probed = {offer.key: reason for offer, reason in skipped}
    for group in groups:
        if group.file_key != chosen.file_key or group is chosen:
            continue
        failures = dict(group.failures)
        for offer in group.offers:
            if offer.username in sources:
                continue
            if group.confirmed:
                why[offer.username] = "another copy: its probe differs"
            elif offer.username in failures:
                why[offer.username] = f"probe failed: {failures[offer.username]}"
            else:
                why[offer.username] = f"not probed ({not_probed.get(offer.key, 'not planned')})"
    return why

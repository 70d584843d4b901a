"""From what a user asked for (a peer's file, or search words) to the copies to fetch.

Shared by the CLI (a session of its own) and the daemon (its long-lived session): search,
group the replies into copies of one file (``domain.candidates``), and — for a query —
probe the best groups so that only copies confirmed byte-for-byte become sources
(``probe``), choosing among them by canonical quality. Failures are ``LookupFailed`` with
a sentence for the user.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from slskdn.actors.loop import LoopThread
from slskdn.actors.system import ActorSystem
from slskdn.domain.candidate_probes import left_out
from slskdn.domain.candidates import CandidateGroup, choose_group, file_name, group_offers

from .client import SoulseekSession
from .probe import (
    ProbedCandidates,
    ProbeSettings,
    offers_of,
    probe_candidates,
    record_probe_failures,
)


class LookupFailed(Exception):
    """Nothing on the network matches the request."""


@dataclass(frozen=True)
class Found:
    """The group to download, and (for a probed query) who was left out and why."""

    group: CandidateGroup
    probe: dict[str, Any] | None = None


def group_record(group: CandidateGroup) -> dict[str, Any]:
    """A group as plain data (CLI ``--json`` and the HTTP API)."""
    return {
        "name": group.name,
        "size": group.size,
        "sources": group.sources,
        "offers": [asdict(o) for o in group.offers],
        "confirmed": group.confirmed,
        "digests": list(group.digests) if group.digests is not None else None,
        "probe_failures": dict(group.failures),
    }


def search_groups(loop: LoopThread, session: SoulseekSession, query: str,
                  window: float) -> list[CandidateGroup]:
    """Search for ``window`` seconds and group the replies (best group first)."""
    results = loop.submit(session.search(query, window_s=window)).result(window + 30)
    return group_offers(offers_of(results))


def probe_groups(loop: LoopThread, actors: ActorSystem, session: SoulseekSession,
                 groups: list[CandidateGroup]) -> ProbedCandidates:
    """Probe the best groups (the default budget); failed probes go to the peers' records."""
    settings = ProbeSettings()
    probed = loop.submit(probe_candidates(session, groups, settings=settings)).result(
        settings.deadline_s + 60)
    record_probe_failures(actors, probed.results)
    return probed


def group_for_query(loop: LoopThread, actors: ActorSystem, session: SoulseekSession,
                    query: str, window: float) -> Found:
    groups = search_groups(loop, session, query, window)
    if not groups:
        raise LookupFailed(f"no results for {query!r}")
    probed = probe_groups(loop, actors, session, groups)
    chosen = choose_group(probed.groups)
    if chosen is None:
        failed = "; ".join(f"{r.username}: {r.reason}" for r in probed.failures)
        raise LookupFailed(f"no copy of a result for {query!r} could be confirmed by a probe"
                           + (f" ({failed})" if failed else ""))
    return Found(chosen, {
        "sources": [o.username for o in chosen.offers],
        "left_out": left_out(chosen, probed.groups, probed.skipped),
        "seconds": round(probed.seconds, 3),
    })  # fmt: skip


def group_for_file(loop: LoopThread, session: SoulseekSession, username: str, path: str,
                   window: float, multi_source: bool = True) -> Found:
    """The copies of ``username``'s ``path``: searched by its file name, so the size and the
    other peers sharing the same file are known; with ``multi_source=False`` only that peer."""
    name = file_name(path)
    groups = [g for g in search_groups(loop, session, name, window)
              if any(o.username == username and o.path == path for o in g.offers)]  # fmt: skip
    if not groups:
        raise LookupFailed(f"{username} does not offer {path} (not in search results for {name!r})")
    group = groups[0]
    if not multi_source:
        mine = tuple(o for o in group.offers if o.username == username)
        group = CandidateGroup(group.name, group.size, mine)
    return Found(group)

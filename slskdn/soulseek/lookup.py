"""From what a user asked for (a peer's file, or search words) to the copies to fetch.

Shared by the CLI (a session of its own) and the daemon (its long-lived session): search,
group the replies into copies of one file (``domain.candidates``), and probe them so that
only copies confirmed byte-for-byte become sources (``probe``): for a query, the best groups,
choosing among them by canonical quality; for a peer's file, the other peers' copies against
that peer's own. Failures are ``LookupFailed`` with
a sentence for the user.

Each step runs on the session's loop while the calling thread waits. With a ``stop`` event
the wait ends within ``STOP_POLL_S`` of it being set: the search or probe is cancelled and
``LookupInterrupted`` raised, so a shutdown does not sit out a search window.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from slskdn.actors.loop import LoopThread
from slskdn.actors.system import ActorSystem
from slskdn.domain.candidate_probes import copies_of, left_out, probe_ranges
from slskdn.domain.candidates import (
    CandidateGroup,
    Offer,
    choose_group,
    file_name,
    group_offers,
    order_offers,
)

from .client import SoulseekSession
from .probe import (
    ProbedCandidates,
    ProbeSettings,
    offers_of,
    probe_candidates,
    record_probe_failures,
)
from .records import SearchResult

T = TypeVar("T")

STOP_POLL_S = 0.05  # how often a waiting lookup looks at its stop event


class LookupFailed(Exception):
    """Nothing on the network matches the request."""


class LookupInterrupted(Exception):
    """The lookup was stopped (shutdown or cancel) before it found anything."""


def _wait(future: Future[T], timeout: float, stop: threading.Event | None) -> T:
    """``future.result(timeout)``, but cancelled at once when ``stop`` is set."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return future.result(max(0.0, min(left, STOP_POLL_S)) if stop is not None else left)
        except TimeoutError:
            if stop is not None and stop.is_set():
                future.cancel()
                raise LookupInterrupted("stopped while looking the file up") from None
            if time.monotonic() >= deadline:
                future.cancel()
                raise


@dataclass(frozen=True)
class ProbedBytes:
    """A probe's bytes of the chosen file, kept for the download: ``part`` holds ``ranges``
    (at their offsets) as ``username`` sent them."""

    part: Path
    username: str
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Found:
    """The group to download, (for a probed lookup) who was left out and why, and the bytes
    a probe of one of its sources fetched (with ``keep_dir``)."""

    group: CandidateGroup
    probe: dict[str, Any] | None = None
    probed: ProbedBytes | None = None


def _kept(chosen: CandidateGroup, probed: ProbedCandidates) -> ProbedBytes | None:
    """The kept probe of one of ``chosen``'s sources; the other kept parts are removed."""
    parts = dict(probed.parts)
    offer = next((o for o in chosen.offers if o.key in parts), None)
    mine = parts.pop(offer.key) if offer is not None else None
    for part in parts.values():
        part.unlink(missing_ok=True)
    if offer is None or mine is None:
        return None
    return ProbedBytes(mine, offer.username, probe_ranges(offer.size))


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


def search_results(loop: LoopThread, session: SoulseekSession, query: str, window: float,
                   stop: threading.Event | None = None) -> list[SearchResult]:
    """Search for ``window`` seconds (less if ``stop`` is set: ``LookupInterrupted``)."""
    return _wait(loop.submit(session.search(query, window_s=window)), window + 30, stop)


def search_groups(loop: LoopThread, session: SoulseekSession, query: str,
                  window: float, stop: threading.Event | None = None) -> list[CandidateGroup]:
    """Search for ``window`` seconds and group the replies (best group first)."""
    return group_offers(offers_of(search_results(loop, session, query, window, stop)))


def probe_groups(loop: LoopThread, actors: ActorSystem, session: SoulseekSession,
                 groups: list[CandidateGroup], stop: threading.Event | None = None,
                 first: Offer | None = None, keep_dir: Path | None = None) -> ProbedCandidates:
    """Probe the best groups (the default budget); failed probes go to the peers' records.
    With ``keep_dir`` the successful probes' part files stay there (``ProbedCandidates.parts``)."""
    settings = ProbeSettings()
    probed = _wait(loop.submit(probe_candidates(session, groups, settings=settings,
                                                first=first, keep_dir=keep_dir)),
                   settings.deadline_s + 60, stop)  # fmt: skip
    record_probe_failures(actors, probed.results)
    return probed


def group_for_query(loop: LoopThread, actors: ActorSystem, session: SoulseekSession,
                    query: str, window: float, stop: threading.Event | None = None,
                    keep_dir: Path | None = None) -> Found:
    """The best confirmed group of the replies to ``query`` (see ``group_for_file`` for
    ``keep_dir``)."""
    groups = search_groups(loop, session, query, window, stop)
    if not groups:
        raise LookupFailed(f"no results for {query!r}")
    probed = probe_groups(loop, actors, session, groups, stop, keep_dir=keep_dir)
    chosen = choose_group(probed.groups)
    if chosen is None:
        failed = "; ".join(f"{r.username}: {r.reason}" for r in probed.failures)
        raise LookupFailed(f"no copy of a result for {query!r} could be confirmed by a probe"
                           + (f" ({failed})" if failed else ""))
    return Found(chosen, {
        "sources": [o.username for o in chosen.offers],
        "left_out": left_out(chosen, probed.groups, probed.skipped),
        "seconds": round(probed.seconds, 3),
    }, _kept(chosen, probed))  # fmt: skip


def group_for_file(loop: LoopThread, actors: ActorSystem, session: SoulseekSession,
                   username: str, path: str, window: float, multi_source: bool = True,
                   stop: threading.Event | None = None, keep_dir: Path | None = None) -> Found:
    """The copies of ``username``'s ``path``: searched by its file name, so the size and the
    other peers sharing a file of that name and size are known. Those copies are probed
    against ``username``'s (``probe_candidates`` with it first); only the matching ones become
    sources. With ``multi_source=False``, or no other copy, only that peer (no probe).

    With ``keep_dir`` (the caller's scratch directory, which it removes), the bytes one of the
    chosen sources sent for its probe stay there: ``Found.probed``."""
    name = file_name(path)
    offers = offers_of(search_results(loop, session, name, window, stop))
    wanted = next((o for o in offers if o.username == username and o.path == path), None)
    if wanted is None:
        raise LookupFailed(f"{username} does not offer {path} (not in search results for {name!r})")
    alone = CandidateGroup(name, wanted.size, (wanted,))
    same = next(g for g in group_offers(offers)
                if g.file_key == (name.casefold(), wanted.size))  # fmt: skip
    # One offer per peer: the named peer's is the one named, whatever else it shares.
    others = tuple(o for o in same.offers if o.username != username)
    if not multi_source or not others:
        return Found(alone)
    group = CandidateGroup(same.name, same.size, order_offers((wanted, *others)))
    probed = probe_groups(loop, actors, session, [group], stop, first=wanted, keep_dir=keep_dir)
    chosen = copies_of(wanted, probed.groups)
    why = left_out(chosen, probed.groups, probed.skipped)
    if not chosen.confirmed:  # nothing to compare the others with: none is trusted
        mine = next((r for r in probed.results if r.key == wanted.key), None)
        failed = f"probe failed: {mine.reason}" if mine is not None else "not probed"
        why = {user: f"not compared: {username}'s copy could not be probed ({failed})"
               for user in sorted({o.username for o in others})}  # fmt: skip
    return Found(chosen, {
        "sources": [o.username for o in chosen.offers],
        "left_out": why,
        "seconds": round(probed.seconds, 3),
    }, _kept(chosen, probed))  # fmt: skip

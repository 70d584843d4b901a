"""Simulated sources and scenarios, and a seeded generator of realistic ones."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

from slskdn.domain.swarm.decisions import OVERLAY, SOULSEEK, SourceKind

KB = 1000
MB = 1000 * 1000
KIB = 1024


@dataclass(frozen=True)
class SimSource:
    """A peer as the simulator plays it. Rates in bytes/s, times in seconds from t = 0."""

    source_id: str
    rate: float
    kind: SourceKind = SOULSEEK
    latency: float = 0.05  # one way; the first byte of a request comes 2 × latency later
    negotiation: float = 0.8  # Soulseek handshake + file connection, paid by every transfer
    queue_delay: float = 0.0  # wait in the peer's upload queue before the first transfer
    requeue_delay: float = 0.0  # wait before each later transfer of the same file
    fail_at: float | None = None  # the peer drops (connection lost, then offline)
    stall_at: float | None = None  # from here on it sends at ``stall_rate``
    stall_rate: float = 100.0
    rate_changes: tuple[tuple[float, float], ...] = ()  # (time, new rate)
    corrupt_blocks: frozenset[int] = frozenset()
    advertised_speed: float | None = None

    @property
    def corrupt(self) -> bool:
        return bool(self.corrupt_blocks)

    def first_byte_delay(self, first: bool = True) -> float:
        """Seconds from being asked until the first byte (a_i in T* when ``first``)."""
        if self.kind == OVERLAY:
            return 2.0 * self.latency
        wait = self.queue_delay if first else self.requeue_delay
        return wait + self.negotiation + 2.0 * self.latency

    def schedule(self) -> list[tuple[float, float]]:
        """Piecewise-constant rate as (from time, rate), sorted, starting at 0."""
        points = [(0.0, self.rate), *sorted(self.rate_changes)]
        if self.stall_at is not None:
            points = [(t, r) for t, r in points if t < self.stall_at]
            points.append((self.stall_at, self.stall_rate))
        return points

    def rate_at(self, t: float) -> float:
        if self.fail_at is not None and t >= self.fail_at:
            return 0.0
        rate = self.rate
        for at, r in self.schedule():
            if at <= t:
                rate = r
            else:
                break
        return rate

    def change_times(self) -> list[float]:
        times = [t for t, _ in self.schedule() if t > 0]
        if self.fail_at is not None:
            times.append(self.fail_at)
        return sorted(times)


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    file_size: int
    sources: tuple[SimSource, ...]
    downlink: float = 12.5 * MB  # the downloader's bandwidth (D in T*)
    reference_known: bool = True  # the end check has a digest (FLAC MD5 / known SHA-256)
    flac: bool = False  # the file is a real FLAC stream: its frame CRCs can be checked
    piece_size: int = 64 * KIB  # progress granularity of the simulated network reads
    tags: tuple[str, ...] = field(default=())

    def source(self, source_id: str) -> SimSource:
        return next(s for s in self.sources if s.source_id == source_id)


# --- the generator ---------------------------------------------------------------------------

RATE_MIN = 100 * KB  # Soulseek upload speeds seen in search results span ~100 kB/s ...
RATE_MAX = 4 * MB  # ... to a few MB/s


def log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def random_source(rng: random.Random, source_id: str, kind: SourceKind = SOULSEEK,
                  rates: tuple[float, float] = (RATE_MIN, RATE_MAX)) -> SimSource:
    rate = log_uniform(rng, *rates)
    return SimSource(
        source_id=source_id,
        rate=rate,
        kind=kind,
        latency=rng.uniform(0.02, 0.15),
        negotiation=rng.uniform(0.3, 1.5) if kind == SOULSEEK else 0.1,
        queue_delay=0.0 if rng.random() < 0.7 or kind == OVERLAY else rng.uniform(0.5, 8.0),
        requeue_delay=0.0 if rng.random() < 0.5 or kind == OVERLAY else rng.uniform(0.0, 1.0),
        advertised_speed=rate * math.exp(rng.gauss(0.0, 0.5)),
    )


def random_scenario(seed: int, *, sources: int | None = None, faults: bool = True,
                    overlay: bool = True, file_size: int | None = None,
                    downlink: float | None = None,
                    rates: tuple[float, float] = (RATE_MIN, RATE_MAX),
                    flac: bool = False) -> Scenario:
    """A seeded scenario: 2–12 heterogeneous sources (rates log-uniform in ``rates``) and, if
    ``faults``, sometimes one that stalls, one that fails, one that serves corrupt blocks, and
    a rate change mid-transfer."""
    rng = random.Random(seed)
    n = sources if sources is not None else rng.randint(2, 12)
    size = file_size if file_size is not None else rng.randint(15 * MB, 60 * MB)
    kinds = [SOULSEEK] * n
    if overlay and n >= 3 and rng.random() < 0.25:
        for i in rng.sample(range(n), rng.randint(1, 2)):
            kinds[i] = OVERLAY
    srcs = [random_source(rng, f"peer{i:02d}", kinds[i], rates) for i in range(n)]
    link = downlink if downlink is not None else rng.choice([6.25 * MB, 12.5 * MB, 62.5 * MB])
    tags: list[str] = []
    if faults and n >= 2:
        horizon = size / min(link, sum(s.rate for s in srcs))
        victims = rng.sample(range(n), min(n - 1, 3))  # never touch every source
        if rng.random() < 0.35:
            i = victims[0]
            srcs[i] = replace(srcs[i], stall_at=rng.uniform(0.5, 1.0) * horizon + 1.0)
            tags.append("stall")
        if rng.random() < 0.35 and len(victims) > 1:
            i = victims[1]
            srcs[i] = replace(srcs[i], fail_at=rng.uniform(0.3, 1.0) * horizon + 1.0)
            tags.append("fail")
        if rng.random() < 0.25 and len(victims) > 2:
            i = victims[2]
            srcs[i] = replace(srcs[i], corrupt_blocks=corrupt_pattern(rng, size, 64 * KIB))
            tags.append("corrupt")
        if rng.random() < 0.3:
            i = rng.randrange(n)
            factor = rng.choice([0.25, 0.5, 2.0, 3.0])
            srcs[i] = replace(srcs[i], rate_changes=((rng.uniform(0.2, 0.8) * horizon + 0.5,
                                                      srcs[i].rate * factor),))
            tags.append("rate-change")
    return Scenario(f"s{seed}", seed, size, tuple(srcs), link, True, tags=tuple(tags),
                    flac=flac)


def corrupt_pattern(rng: random.Random, size: int, block: int) -> frozenset[int]:
    """Which blocks a corrupt source gets wrong: a few scattered ones, or all after an offset
    (a different copy with the same size)."""
    blocks = -(-size // block)
    if rng.random() < 0.5:
        count = max(1, int(blocks * rng.uniform(0.01, 0.1)))
        return frozenset(rng.sample(range(blocks), count))
    first = rng.randrange(blocks)
    return frozenset(range(first, blocks))


# --- named scenarios -------------------------------------------------------------------------

MIB = 1024 * 1024


def issue7_scenario(seed: int = 7, *, size: int = 50 * MB,
                    caps_mib: tuple[float, ...] = (1, 1, 2, 2, 4, 8),
                    kill_cap: float | None = 4, kill_share: float = 0.5,
                    advertised: bool = False) -> Scenario:
    """The real Soulseek benchmark of issue 7 (``scripts/bench soulseek``), simulated.

    A 50 MB file on 6 loopback peers capped at 1, 1, 2, 2, 4 and 8 MiB/s; the peer capped at
    ``kill_cap`` is killed at ``kill_share`` of the ideal time S / Σcaps (as the benchmark does);
    loopback negotiations take 0.1–0.3 s, round trips ~1 ms, no upload queue; the downloader's
    own ceiling is far above the caps. Sandbox peers advertise no speed (``advertised``: give
    them their cap, as search results would), so every rate starts as a guess.
    """
    rng = random.Random(seed)
    ideal = size / (sum(caps_mib) * MIB)
    sources = []
    for i, cap in enumerate(caps_mib):
        rate = cap * MIB
        sources.append(SimSource(
            source_id=f"peer{i}-{cap:g}MiBps", rate=rate, latency=0.0005,
            negotiation=rng.uniform(0.1, 0.3), requeue_delay=0.0,
            fail_at=kill_share * ideal if kill_cap is not None and cap == kill_cap else None,
            advertised_speed=rate if advertised else None))
        if kill_cap is not None and cap == kill_cap:
            kill_cap = None  # only the first peer with that cap
    tags = ("issue7", "fail") if any(s.fail_at for s in sources) else ("issue7",)
    return Scenario(f"issue7-s{seed}", seed, size, tuple(sources), downlink=150 * MIB,
                    tags=tags)


# --- what if: the same scenario with one kind of trouble taken away ---------------------------

WHAT_IFS = ("no-faults", "honest-liars", "exact-speeds", "free-negotiations")
FREE_NEGOTIATION = 0.05  # seconds: a handshake on a fast LAN, no upload queue


def what_if(scenario: Scenario, changes: tuple[str, ...]) -> Scenario:
    """The scenario with some of its trouble taken away, to measure what each kind costs
    against its own T* (docs/swarm.md, "What each kind of trouble costs").

    ``no-faults``: nobody stalls, fails, lies or changes rate. ``honest-liars``: only the
    corrupt sources are made honest. ``exact-speeds``: every advertised speed is the source's
    true starting rate (a later rate change still surprises); the session must also take
    them at face value (``advertised_discount`` 1.0), which is the caller's config.
    ``free-negotiations``: every Soulseek transfer starts 0.05 s after it is asked, with no
    upload queue before the first or any later one.
    """
    unknown = [c for c in changes if c not in WHAT_IFS]
    if unknown:
        raise ValueError(f"unknown what-if {unknown[0]!r}: expected one of {', '.join(WHAT_IFS)}")
    sources, tags = list(scenario.sources), list(scenario.tags)
    if "no-faults" in changes:
        sources = [replace(s, stall_at=None, fail_at=None, corrupt_blocks=frozenset(),
                           rate_changes=()) for s in sources]
        tags = []
    if "honest-liars" in changes:
        sources = [replace(s, corrupt_blocks=frozenset()) for s in sources]
        tags = [t for t in tags if t != "corrupt"]
    if "exact-speeds" in changes:
        sources = [replace(s, advertised_speed=s.rate) for s in sources]
    if "free-negotiations" in changes:
        sources = [replace(s, negotiation=FREE_NEGOTIATION, queue_delay=0.0, requeue_delay=0.0)
                   if s.kind == SOULSEEK else s for s in sources]
    return replace(scenario, sources=tuple(sources), tags=tuple(tags))

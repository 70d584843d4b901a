"""Local reputation of a peer: how far we trust it to deliver correct bytes on time.

The score is the mean of a Beta distribution over weighted good and bad outcomes with a neutral
prior (one good, one bad), so it is always in (0, 1), starts at 0.5 and moves less the more
evidence there is. All counts decay with a half-life, so a peer can earn its way back.
Corrupt data weighs far more than a timeout: a slow peer wastes time, a lying one wastes trust.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum


class Outcome(Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    CORRUPT = "corrupt"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled by peer"


@dataclass(frozen=True)
class ReputationConfig:
    half_life_s: float = 7 * 24 * 3600.0
    prior_good: float = 1.0
    prior_bad: float = 1.0
    success_weight: float = 1.0
    failure_weight: float = 1.0
    timeout_weight: float = 1.0
    cancel_weight: float = 0.5
    corrupt_weight: float = 50.0  # one corrupt range outweighs fifty good ones
    quarantine_below: float = 0.2


@dataclass(frozen=True)
class Reputation:
    peer_id: str
    successes: float = 0.0
    failures: float = 0.0
    timeouts: float = 0.0
    cancellations: float = 0.0
    corrupt: float = 0.0
    updated_at: float = 0.0

    def decayed(self, now: float, config: ReputationConfig) -> Reputation:
        if now <= self.updated_at:
            return self
        f = math.pow(0.5, (now - self.updated_at) / config.half_life_s)
        return Reputation(self.peer_id, self.successes * f, self.failures * f,
                          self.timeouts * f, self.cancellations * f, self.corrupt * f, now)

    def score(self, config: ReputationConfig) -> float:
        good = config.prior_good + config.success_weight * self.successes
        bad = (config.prior_bad + config.failure_weight * self.failures
               + config.timeout_weight * self.timeouts + config.cancel_weight * self.cancellations
               + config.corrupt_weight * self.corrupt)
        return good / (good + bad)

    def quarantined(self, config: ReputationConfig) -> bool:
        """Below the threshold a peer is used only when no other source exists."""
        return self.score(config) < config.quarantine_below

    def reason(self, config: ReputationConfig) -> str:
        """A short human reason for the score, naming the heaviest kind of bad outcome."""
        weighed = {
            "sent corrupt data": config.corrupt_weight * self.corrupt,
            "high timeouts": config.timeout_weight * self.timeouts,
            "frequent failures": config.failure_weight * self.failures,
            "cancels transfers": config.cancel_weight * self.cancellations,
        }
        worst, weight = max(weighed.items(), key=lambda kv: kv[1])
        if weight >= 0.5 and weight >= config.success_weight * self.successes * 0.25:
            return worst
        if self.successes < 1.0:
            return "little history"
        return "reliable"


def record(rep: Reputation, outcome: Outcome, at: float, config: ReputationConfig,
           count: float = 1.0) -> Reputation:
    """Add ``count`` outcomes of one kind at time ``at``."""
    r = rep.decayed(at, config)
    match outcome:
        case Outcome.SUCCESS:
            return replace(r, successes=r.successes + count)
        case Outcome.FAILURE:
            return replace(r, failures=r.failures + count)
        case Outcome.CORRUPT:
            return replace(r, corrupt=r.corrupt + count)
        case Outcome.TIMEOUT:
            return replace(r, timeouts=r.timeouts + count)
        case Outcome.CANCELLED:
            return replace(r, cancellations=r.cancellations + count)
    raise ValueError(outcome)


class ReputationBook:
    """Reputations keyed by peer id."""

    def __init__(self, config: ReputationConfig | None = None) -> None:
        self.config = config or ReputationConfig()
        self._peers: dict[str, Reputation] = {}

    def get(self, peer_id: str, now: float) -> Reputation:
        rep = self._peers.get(peer_id) or Reputation(peer_id, updated_at=now)
        return rep.decayed(now, self.config)

    def record(self, peer_id: str, outcome: Outcome, at: float, count: float = 1.0) -> Reputation:
        updated = record(self.get(peer_id, at), outcome, at, self.config, count)
        self._peers[peer_id] = updated
        return updated

    def score(self, peer_id: str, now: float) -> float:
        return self.get(peer_id, now).score(self.config)

    def scores(self, now: float) -> dict[str, float]:
        return {pid: self.score(pid, now) for pid in self._peers}

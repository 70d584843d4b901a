"""Benchmark of the multi-source swarm against the fluid lower bound T* and two baselines.

    .venv/bin/python -m benchmarks.swarm [--scenarios N] [--seed S] [--plot PATH] [--workers W]
                                         [--mode conservative|balanced|aggressive]
                                         [--breakdown N] [--set NAME=VALUE ...]
                                         [--files flac|bytes] [--what-if CHANGE ...]

Each scenario is simulated twice with the same seed: once to download the whole file (efficiency
T*/T, waste, integrity) and once in playback mode until the first 30 s of audio at 1411 kbps are
there. Separate families of scenarios with exactly 8 heterogeneous, honest Soulseek sources
measure the speedup over one peer: "8src" with the mixed scenarios' rates (log-uniform
0.1–4 MB/s, where the fastest peer often carries most of the total, so even T* is ~2× the single
best) and "8src-spread" with rates log-uniform 0.5–2 MB/s (no peer dominates, so 3× is
physically possible); each is reported beside its ideal, T*-based speedup. "issue7" is the
simulated twin of the real Soulseek benchmark (``issue7_scenario``) over ten seeds.
The files are real FLAC streams (the files slskdn is for): the swarm judges each frame's CRC as
it arrives; ``--files bytes`` makes them random bytes, with nothing to check but cross-checks
and the end check. ``--breakdown N`` also prints where the N worst mixed scenarios lost time
against T* (``slskdn.simulation.breakdown``). The median, p10 and first-30-s figures come with
a 95% bootstrap interval: 200 scenarios move the median by about ±0.01 from one seed to the
next, so 1000 are the default. ``--what-if`` runs the same scenarios with one kind of trouble
taken away (``no-faults``, ``honest-liars``, ``exact-speeds``, ``free-negotiations``; see
``what_if`` in ``slskdn.simulation.scenario``), each against its own T*: what that trouble
costs the policy.
Progress goes to stdout; the LAST line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from slskdn.domain.swarm.session import SessionConfig
from slskdn.domain.swarm.snapshot import SchedulerConfig
from slskdn.domain.swarm.zones import bytes_for_seconds
from slskdn.simulation.baselines import sequential_failover, single_best
from slskdn.simulation.breakdown import CATEGORIES
from slskdn.simulation.lower_bound import t_star
from slskdn.simulation.runner import run_scenario
from slskdn.simulation.scenario import (
    MB,
    WHAT_IFS,
    Scenario,
    issue7_scenario,
    random_scenario,
    what_if,
)

PLAYBACK_KBPS = 1411.0
PREFIX_SECONDS = 30.0
SPREAD_RATES = (0.5 * MB, 2.0 * MB)  # the "8src-spread" family: a 4× spread, nobody dominates
ISSUE7_SEEDS = 10


@dataclass(frozen=True)
class Row:
    seed: int
    family: str  # "mixed", "8src", "8src-spread" or "issue7"
    sources: int
    tags: tuple[str, ...]
    t_star: float
    time: float
    efficiency: float
    waste: float
    sha_ok: bool
    corrupt_served: int
    corrupt_detected: int
    false_convictions: int
    single_best: float
    sequential: float
    prefix_ratio: float | None
    lost: dict[str, float] | None = None  # breakdown: unused capacity / S by category


def scenario_of(family: str, seed: int, flac: bool = True) -> Scenario:
    if family == "8src":
        return random_scenario(seed, sources=8, faults=False, overlay=False, downlink=12.5 * MB,
                               flac=flac)
    if family == "8src-spread":
        return random_scenario(seed, sources=8, faults=False, overlay=False, downlink=12.5 * MB,
                               rates=SPREAD_RATES, flac=flac)
    if family == "issue7":
        return issue7_scenario(seed)  # like the real benchmark's file: random bytes
    return random_scenario(seed, flac=flac)


def scheduler_overrides(pairs: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs for ``SchedulerConfig`` fields, each value parsed as its default's
    type (``--set endgame_race=true``); a wrong name or value stops the benchmark."""
    defaults = SchedulerConfig()
    out: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not hasattr(defaults, name):
            raise SystemExit(f"--set {pair}: expected NAME=VALUE with NAME a SchedulerConfig "
                             "field")
        kind = type(getattr(defaults, name))
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                out[name] = text.lower() in ("true", "1")
            else:
                out[name] = kind(text)
        except ValueError:
            raise SystemExit(f"--set {pair}: {text!r} is not a {kind.__name__}") from None
    return out


def session_config(overrides: tuple[tuple[str, object], ...],
                   changes: tuple[str, ...] = ()) -> SessionConfig:
    config = SessionConfig(scheduler=replace(SchedulerConfig(), **dict(overrides)))
    if "exact-speeds" in changes:
        # Exact speeds are worth nothing if the session still discounts them as optimistic.
        config = replace(config, costs=replace(config.costs, advertised_discount=1.0))
    return config


Job = tuple[str, int, tuple[tuple[str, object], ...], bool, bool, tuple[str, ...]]


def run_one(job: Job) -> Row:
    family, seed, overrides, breakdown, flac, changes = job
    config = session_config(overrides, changes)
    sc = what_if(scenario_of(family, seed, flac), changes)
    bound = t_star(sc)
    result = run_scenario(sc, config, breakdown=breakdown and family == "mixed")
    prefix_ratio = None
    if family == "mixed":
        prefix = min(sc.file_size, bytes_for_seconds(PREFIX_SECONDS, PLAYBACK_KBPS))
        play = run_scenario(sc, replace(config, playback_bitrate_kbps=PLAYBACK_KBPS),
                            prefix_bytes=prefix, stop_at_prefix=True)
        if play.prefix_time is not None:
            prefix_ratio = play.prefix_time / t_star(sc, prefix)
        else:
            prefix_ratio = math.inf
    honest_convicted = result.convicted - result.corrupt_sources
    return Row(seed, family, len(sc.sources), sc.tags, bound, result.time,
               bound / result.time if result.time > 0 else 0.0,
               result.wasted_bytes / sc.file_size, result.sha256_ok,
               len(result.corrupt_served), len(result.corrupt_served & result.convicted),
               len(honest_convicted), single_best(sc), sequential_failover(sc), prefix_ratio,
               dict(result.breakdown.lost) if result.breakdown else None)


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile (q in [0, 1])."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def bootstrap_interval(values: list[float], q: float, rounds: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """95% interval of the ``q`` quantile of the population the values were drawn from
    (percentile bootstrap, seeded: the same values give the same interval)."""
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(quantile(rng.choices(values, k=n), q) for _ in range(rounds))
    return quantile(stats, 0.025), quantile(stats, 0.975)


def interval(values: list[float], q: float) -> list[float]:
    lo, hi = bootstrap_interval(values, q)
    return [round(lo, 4), round(hi, 4)]


def speedups(rows: list[Row], baseline: str) -> list[float]:
    out = []
    for r in rows:
        base = r.single_best if baseline == "single" else r.sequential
        if math.isfinite(base) and math.isfinite(r.time) and r.time > 0:
            out.append(base / r.time)
    return out


def ideal_speedup(rows: list[Row]) -> float:
    return statistics.median(r.single_best / r.t_star for r in rows
                             if math.isfinite(r.single_best))


def summarize(mixed: list[Row], eight: list[Row], spread: list[Row], issue7: list[Row],
              seconds: float) -> dict[str, Any]:
    eff = [r.efficiency for r in mixed]
    clean = [r.efficiency for r in mixed if not r.tags]
    faulty = [r.efficiency for r in mixed if r.tags]
    corrupt = [r for r in mixed if r.corrupt_served]
    prefixes = [r.prefix_ratio for r in mixed if r.prefix_ratio is not None]
    med = statistics.median
    return {
        "efficiency_median": round(med(eff), 4),
        "efficiency_p10": round(quantile(eff, 0.10), 4),
        "efficiency_median_ci95": interval(eff, 0.5),
        "efficiency_p10_ci95": interval(eff, 0.10),
        "ci95_is": "95% bootstrap interval over the scenarios: where the figure of another "
                   "draw of as many scenarios would likely fall",
        "efficiency_median_no_faults": round(med(clean), 4) if clean else None,
        "efficiency_median_with_faults": round(med(faulty), 4) if faulty else None,
        "waste_ratio": round(med(r.waste for r in mixed), 4),
        "waste_ratio_is": "median over scenarios of (bytes delivered - S) / S",
        "waste_ratio_mean": round(statistics.fmean(r.waste for r in mixed), 4),
        "speedup_vs_sequential_failover": round(med(speedups(mixed, "seq")), 3),
        "speedup_vs_single_best": round(med(speedups(mixed, "single")), 3),
        "speedup_vs_single_best_8src": round(med(speedups(eight, "single")), 3),
        "speedup_vs_sequential_failover_8src": round(med(speedups(eight, "seq")), 3),
        "ideal_speedup_vs_single_best_8src": round(ideal_speedup(eight), 3),
        "efficiency_median_8src": round(med(r.efficiency for r in eight), 4),
        "8src_is": "8 honest sources, rates log-uniform 0.1-4 MB/s (the mixed scenarios' rates)",
        "speedup_vs_single_best_8src_spread": round(med(speedups(spread, "single")), 3),
        "ideal_speedup_vs_single_best_8src_spread": round(ideal_speedup(spread), 3),
        "efficiency_median_8src_spread": round(med(r.efficiency for r in spread), 4),
        "8src_spread_is": "8 honest sources, rates log-uniform 0.5-2 MB/s (no peer dominates)",
        "issue7_efficiency_median": round(med(r.efficiency for r in issue7), 4),
        "issue7_efficiency_min": round(min(r.efficiency for r in issue7), 4),
        "issue7_is": "issue 7's Soulseek benchmark simulated: 50 MB, 6 peers at 1,1,2,2,4,8 "
                     "MiB/s, the 4 MiB/s one killed at half the ideal time, "
                     f"{len(issue7)} seeds",
        "corrupt_detected_ratio": round(sum(r.corrupt_detected for r in corrupt)
                                        / max(1, sum(r.corrupt_served for r in corrupt)), 4)
        if corrupt else None,
        "corrupt_scenarios": len(corrupt),
        "false_convictions": sum(r.false_convictions for r in mixed),
        "sha256_ok_ratio": round(sum(r.sha_ok for r in mixed) / len(mixed), 4),
        "first_30s_ratio": round(med(prefixes), 4) if prefixes else None,
        "first_30s_ratio_ci95": interval(prefixes, 0.5) if prefixes else None,
        "first_30s_ratio_p90": round(quantile(prefixes, 0.9), 4) if prefixes else None,
        "scenarios": len(mixed),
        "scenarios_8src": len(eight),
        "efficiency_max": round(max(eff), 4),
        "seconds": round(seconds, 1),
    }


def plot(rows: list[Row], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    kinds = [("no faults", lambda r: not r.tags, "tab:blue"),
             ("stall/fail/rate change", lambda r: r.tags and not r.corrupt_served, "tab:orange"),
             ("corrupt source", lambda r: bool(r.corrupt_served), "tab:red")]
    for label, keep, color in kinds:
        pts = [(r.t_star, r.efficiency) for r in rows if keep(r)]
        if pts:
            left.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, label=label, c=color)
    left.set_xscale("log")
    left.set_xlabel("T* (s, log scale)")
    left.set_ylabel("efficiency T*/T")
    left.axhline(0.9, color="grey", lw=0.8, ls="--")
    left.set_ylim(0, 1.02)
    left.legend(fontsize=8, loc="lower right")
    left.set_title("efficiency per scenario")
    eff = sorted(r.efficiency for r in rows)
    right.plot([i / (len(eff) - 1) for i in range(len(eff))], eff, color="tab:blue")
    right.axhline(0.9, color="grey", lw=0.8, ls="--")
    right.axhline(0.8, color="grey", lw=0.8, ls=":")
    right.set_xlabel("fraction of scenarios")
    right.set_ylabel("efficiency T*/T (sorted)")
    right.set_ylim(0, 1.02)
    right.set_title(f"{len(rows)} seeded scenarios")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.swarm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=1000,
                        help="mixed scenarios (default 1000: with 200, the median moves by "
                             "about ±0.01 and p10 by ±0.02 from one seed to the next)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", metavar="PATH")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=["conservative", "balanced", "aggressive"],
                        default="balanced")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="a SchedulerConfig field for this run (repeatable), e.g. "
                             "endgame_race=true")
    parser.add_argument("--files", choices=["flac", "bytes"], default="flac",
                        help="what the scenarios' files are: real FLAC streams, whose frame "
                             "CRCs the swarm checks as they arrive (the default), or random "
                             "bytes with nothing to check but cross-checks and the end check")
    parser.add_argument("--what-if", dest="what_if", action="append", default=[],
                        choices=WHAT_IFS, metavar="CHANGE",
                        help="run every scenario with this trouble taken away (repeatable): "
                             + ", ".join(WHAT_IFS))
    parser.add_argument("--breakdown", type=int, default=0, metavar="N",
                        help="print where the N worst mixed scenarios lost time (slower)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    base = args.seed * 1_000_003
    small = max(20, min(50, args.scenarios // 4))
    wide = args.breakdown > 0
    settings = {"mode": args.mode, **scheduler_overrides(args.overrides)}
    over = tuple(sorted(settings.items()))
    flac = args.files == "flac"
    changes = tuple(sorted(set(args.what_if)))
    jobs: list[Job] = [("mixed", base + i, over, wide, flac, changes)
                       for i in range(args.scenarios)]
    jobs += [("8src", base + 500_000 + i, over, False, flac, changes) for i in range(small)]
    jobs += [("8src-spread", base + 600_000 + i, over, False, flac, changes)
             for i in range(small)]
    jobs += [("issue7", args.seed * 100 + i, over, False, False, changes)
             for i in range(ISSUE7_SEEDS)]
    rows: dict[str, list[Row]] = {"mixed": [], "8src": [], "8src-spread": [], "issue7": []}
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for n, row in enumerate(pool.map(run_one, jobs, chunksize=4), start=1):
            rows[row.family].append(row)
            if n % 25 == 0 or n == len(jobs):
                effs = [r.efficiency for r in rows["mixed"]] or [math.nan]
                print(f"[{n}/{len(jobs)}] " + " ".join(f"{k}={len(v)}" for k, v in rows.items())
                      + f" efficiency median so far {statistics.median(effs):.3f} "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
    mixed = rows["mixed"]
    if args.breakdown:
        print_breakdown(mixed, args.breakdown)
    if args.plot:
        plot(mixed, args.plot)
        print(f"plot written to {args.plot}", flush=True)
    print(json.dumps({"settings": {**settings, "files": args.files, "what_if": list(changes)},
                      **summarize(mixed, rows["8src"], rows["8src-spread"], rows["issue7"],
                                  time.monotonic() - started)}), flush=True)
    return 0


def print_breakdown(mixed: list[Row], worst: int) -> None:
    """Where time went: mean unused capacity by category, then the worst scenarios."""
    with_lost = [r for r in mixed if r.lost is not None]
    means = {c: statistics.fmean((r.lost or {}).get(c, 0.0) for r in with_lost)
             for c in CATEGORIES}
    print("unused capacity / S, mean over scenarios: " + " ".join(
        f"{c}={v:.3f}" for c, v in sorted(means.items(), key=lambda kv: -kv[1])
        if abs(v) >= 0.001), flush=True)
    for r in sorted(with_lost, key=lambda r: r.efficiency)[:worst]:
        top = sorted(((c, v) for c, v in (r.lost or {}).items() if v >= 0.01),
                     key=lambda kv: -kv[1])
        print(f"  seed {r.seed} sources={r.sources} {','.join(r.tags) or 'no faults'}: "
              f"T*={r.t_star:.2f} s T={r.time:.2f} s efficiency {r.efficiency:.3f}; "
              + " ".join(f"{c}={v:.2f}" for c, v in top), flush=True)


if __name__ == "__main__":
    sys.exit(main())

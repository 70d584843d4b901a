"""Library analysis: speed (decode included) and detection quality on a generated corpus.

    scripts/bench library [--seconds 30] [--scale 3] [--workers 1]
    .venv/bin/python -m benchmarks.library

Builds the corpus (real LAME/libvorbis/libFLAC encodes, see slskdn.testing.corpus), then
analyses every file in this process, timing each with process CPU time:

* realtime_factor_per_core: audio seconds / CPU seconds per file, median over the decodable
  files (decode + spectrum + fingerprint + tags + verdict). Target >= 300.
* detected / expected_detections: files the ground truth marks as detectable transcodes
  (lossless from MP3 or Vorbis with a lowpass; fake-bitrate MP3s) that were flagged.
* false_positives: files that are not transcodes (genuine lossless, honest lossy,
  upsampled, fake-depth, clipped) that were flagged. Target 0.
* max_cutoff_error_hz: worst |measured - encoder lowpass| over files with a codec cutoff.
* files_per_s_wall with --workers N: the same files through `analyse_many` (process pool).
* first_scan_files_per_s / rescan_files_per_s: `library scan` through the engine (events,
  actors, projection) over a library of --library-files tiny real FLAC files (default
  10,000): the first scan analyses every file, the rescan (median of 3) skips them all as
  unchanged. Target for the rescan: >= 5,000 files/s.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from slskdn.audio.analysis import FileAnalysis, analyse_file, analyse_many
from slskdn.testing.corpus import CorpusFile, build_corpus

MUST_FLAG = {f"mp3@{k}" for k in (128, 160, 192, 256)} | {f"vorbis@q{q}" for q in range(5)}


def score(files: list[CorpusFile], results: list[FileAnalysis]) -> dict[str, object]:
    """Detection figures of `results` against the corpus ground truth."""
    detected = expected = false_pos = missed_required = 0
    cutoff_errors: list[float] = []
    misses: list[str] = []
    for f, r in zip(files, results, strict=True):
        e = f.expected
        if e.error or r.quality is None:
            continue
        flagged = r.quality.transcode.suspect
        if e.is_transcode and e.kind != "undetectable_transcode":
            expected += 1
            detected += flagged
            if not flagged:
                misses.append(f.path.name)
                missed_required += e.source in MUST_FLAG
        elif not e.is_transcode and flagged:
            false_pos += 1
            misses.append(f"FP:{f.path.name}")
        if e.cutoff_hz is not None and r.spectral and r.spectral.cutoff_hz is not None:
            cutoff_errors.append(abs(r.spectral.cutoff_hz - e.cutoff_hz))
    return {
        "detected": detected,
        "expected_detections": expected,
        "missed_required": missed_required,
        "false_positives": false_pos,
        "max_cutoff_error_hz": round(max(cutoff_errors), 1) if cutoff_errors else None,
        "mean_cutoff_error_hz": round(statistics.mean(cutoff_errors), 1) if cutoff_errors else None,
        "misses": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length")
    parser.add_argument("--scale", type=int, default=3, help="seeds per signal kind")
    parser.add_argument("--workers", type=int, default=1, help="process pool size")
    parser.add_argument("--no-fingerprint", action="store_true")
    parser.add_argument(
        "--library-files",
        type=int,
        default=10_000,
        help="size of the generated library for the scan figures (0: skip)",
    )
    args = parser.parse_args()
    fingerprint = not args.no_fingerprint

    with tempfile.TemporaryDirectory(prefix="slskdn-bench-") as tmp:
        t0 = time.perf_counter()
        files = build_corpus(Path(tmp), seconds=args.seconds, scale=args.scale)
        build_s = time.perf_counter() - t0
        print(
            f"corpus: {len(files)} files, {args.seconds:g} s clips, built in {build_s:.1f} s",
            flush=True,
        )
        results, factors = [], []
        audio_s = cpu_s = 0.0
        serial_started = time.perf_counter()
        for f in files:
            c0 = time.process_time()
            result = analyse_file(f.path, fingerprint=fingerprint)
            cpu = time.process_time() - c0
            results.append(result)
            if result.spectral is not None and result.probe is not None:
                seconds = result.probe.duration_ms / 1000
                factors.append(seconds / max(cpu, 1e-6))
                audio_s += seconds
                cpu_s += cpu
        serial_wall = time.perf_counter() - serial_started
        figures = score(files, results)
        print(
            f"analysed {len(factors)} decodable files: median "
            f"{statistics.median(factors):.0f}x real time per core",
            flush=True,
        )
        out: dict[str, object] = {
            "benchmark": "library",
            "files": len(files),
            "clip_seconds": args.seconds,
            "fingerprint": fingerprint,
            "realtime_factor_per_core": round(statistics.median(factors), 1),
            "realtime_factor_per_core_p10": round(statistics.quantiles(factors, n=10)[0], 1)
            if len(factors) >= 10
            else None,
            "realtime_factor_aggregate": round(audio_s / cpu_s, 1),
            **figures,
        }
        if args.workers > 1:
            t0 = time.perf_counter()
            pooled = analyse_many(
                [f.path for f in files], workers=args.workers, fingerprint=fingerprint
            )
            wall = time.perf_counter() - t0
            out["workers"] = args.workers
            out["files_per_s_wall"] = round(len(files) / wall, 1)
            out["files_per_s_serial"] = round(len(files) / serial_wall, 1)
            out["workers_speedup"] = round(serial_wall / wall, 2)
            out["pool_matches_serial"] = pooled == results
        if args.library_files:
            out.update(scan_figures(Path(tmp) / "library", args.library_files, args.workers))
    print(json.dumps(out))


def scan_figures(root: Path, n_files: int, workers: int) -> dict[str, object]:
    """First scan and rescan of a library of n tiny real FLAC files through the engine."""
    from slskdn.config import load_settings
    from slskdn.engine import Engine
    from slskdn.library.scan import scan
    from slskdn.testing.library import write_track

    template = write_track(root / "template.flac", "flac", seconds=0.5)
    for i in range(n_files):
        folder = root / f"artist{i // 1000:02d}" / f"album{i // 10:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, folder / f"{i % 10:02d}.flac")
    template.unlink()
    print(f"library: {n_files} files generated", flush=True)
    settings = load_settings(env={"SLSKDN_APP_DIR": str(root.parent / "app")})
    with Engine(settings) as engine:
        first = scan(engine, [root], workers=max(workers, os.cpu_count() or 1))
        print(f"first scan: {first.files} files in {first.seconds:.1f} s", flush=True)
        rescans = []
        for _ in range(3):
            again = scan(engine, [root])
            assert again.skipped_unchanged == n_files, again
            rescans.append(n_files / again.seconds)
        print(f"rescans: {', '.join(f'{r:,.0f}' for r in rescans)} files/s", flush=True)
    return {
        "library_files": n_files,
        "first_scan_files_per_s": round(first.files / first.seconds, 1),
        "rescan_files_per_s": round(statistics.median(rescans), 1),
    }


if __name__ == "__main__":
    main()

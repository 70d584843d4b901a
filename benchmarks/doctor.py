"""Collection Doctor over a generated library with planted problems.

    scripts/bench doctor [--releases 420] [--tracks 12] [--workers N]

Generates real (tiny) audio files across many releases, tagged like Picard would, stores the
releases' tracklists in the MusicBrainz cache (offline, as a previous --fetch-missing would
have), plants known problems — transcodes, duplicate lower-quality copies, files tagged
with a release that lacks their recording, missing tracks, wrong durations, unreadable
files — then runs `doctor scan` twice (first scan, rescan). Every planted problem has a
known issue key; `planted_found` counts those raised, `false_issues` counts issues raised
that were not planted. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from slskdn.config import load_settings
from slskdn.doctor.scan import doctor_scan
from slskdn.engine import Engine
from slskdn.musicbrainz.cache import MusicBrainzCache
from slskdn.musicbrainz.model import Medium, Track, Tracklist
from slskdn.projections import health
from slskdn.testing.library import TrackTagsSpec, write_track
from slskdn.testing.tagging import tag_file

CLIP_MS = 500


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build(
    root: Path, releases: int, tracks: int, seed: int
) -> tuple[list[Tracklist], set[str], int]:
    """Write the library; return the tracklists to cache, the planted keys, files written."""
    rng = random.Random(seed)
    templates = {
        kind: write_track(root / f"_template.{kind}.{'mp3' if kind == 'mp3_320' else 'flac'}",
                          kind, seconds=CLIP_MS / 1000, seed=1)
        for kind in ("flac", "mp3_320", "mp3_128_to_flac")
    }  # fmt: skip
    planted: set[str] = set()
    tracklists: list[Tracklist] = []
    written = 0
    # Releases nobody has locally: where the mis-tagged files really belong.
    elsewhere = []
    for r in range(20):
        recs = [uid(rng) for _ in range(tracks)]
        t = Tracklist(uid(rng), f"Elsewhere {r}", "1999", "XW", "Official", uid(rng), (),
                      (Medium(1, "CD", None, tuple(Track(i + 1, str(i + 1), f"E{r}-{i + 1}",
                       CLIP_MS, rec, uid(rng)) for i, rec in enumerate(recs))),))  # fmt: skip
        tracklists.append(t)
        elsewhere.extend(recs)
    for r in range(releases):
        artist = f"Artist {r // 8:03d}"
        album = f"Album {r:04d}"
        release_id, group_id, artist_id = uid(rng), uid(rng), uid(rng)
        folder = root / artist / album
        folder.mkdir(parents=True, exist_ok=True)
        mb_tracks = []
        for n in range(1, tracks + 1):
            recording, track_id = uid(rng), uid(rng)
            length = CLIP_MS
            kind, tagged_recording = "flac", recording
            path = folder / f"{n:02d}.flac"
            roll = rng.random()
            if roll < 0.010:  # missing track
                planted.add(f"missing_track_in_release:{release_id}:1:{n}")
                mb_tracks.append(Track(n, str(n), f"{album} {n}", length, recording, track_id))
                continue
            if roll < 0.020:
                kind = "mp3_128_to_flac"
                planted.add(f"suspected_transcode:{path}")
            elif roll < 0.028:
                length = 240_000
                planted.add(f"wrong_duration:{path}")
            elif roll < 0.034:
                tagged_recording = elsewhere.pop()
                planted.add(f"track_not_in_tagged_release:{path}")
                planted.add(f"missing_track_in_release:{release_id}:1:{n}")
            elif roll < 0.040:
                dupe = folder / f"{n:02d}.mp3"
                _copy_tagged(templates["mp3_320"], dupe, artist, album, n, tracks, recording,
                             release_id, group_id, track_id, artist_id)  # fmt: skip
                written += 1
                planted.add(f"non_canonical_variant:{dupe}")
            mb_tracks.append(Track(n, str(n), f"{album} {n}", length, recording, track_id))
            _copy_tagged(templates[kind], path, artist, album, n, tracks, tagged_recording,
                         release_id, group_id, "" if tagged_recording != recording else track_id,
                         artist_id)  # fmt: skip
            written += 1
        if rng.random() < 0.05:
            bad = folder / "cover-scan.flac"
            bad.write_bytes(b"fLaC" + bytes(rng.getrandbits(8) for _ in range(200)))
            planted.add(f"unreadable:{bad}")
            written += 1
        tracklists.append(Tracklist(release_id, album, "2001", "XW", "Official", group_id, (),
                                    (Medium(1, "CD", None, tuple(mb_tracks)),)))  # fmt: skip
    for template in templates.values():
        template.unlink()
    return tracklists, planted, written


def _copy_tagged(
    template: Path,
    path: Path,
    artist: str,
    album: str,
    n: int,
    total: int,
    recording: str,
    release: str,
    group: str,
    track_id: str,
    artist_id: str,
) -> None:
    shutil.copyfile(template, path)
    spec = TrackTagsSpec(artist, album, f"{album} {n}", n, total, recording, release, group,
                         track_id, artist_id)  # fmt: skip
    tag_file(path, spec.picard())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=420)
    parser.add_argument("--tracks", type=int, default=12)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slskdn-bench-doctor-") as tmp:
        root = Path(tmp) / "Music"
        started = time.perf_counter()
        tracklists, planted, written = build(root, args.releases, args.tracks, args.seed)
        print(f"library: {written} files in {args.releases} releases, {len(planted)} planted "
              f"problems, built in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        settings = load_settings(env={"SLSKDN_APP_DIR": str(Path(tmp) / "app")})
        with Engine(settings) as engine:
            cache = MusicBrainzCache(engine.projections["library"].engine)
            now = datetime.now(UTC)
            for tracklist in tracklists:
                cache.store_tracklist(tracklist, now)
            first = doctor_scan(engine, [root], workers=args.workers)
            print(f"first scan: {first.files} files in {first.seconds:.1f} s", flush=True)
            second = doctor_scan(engine, [root], workers=args.workers)
            print(f"rescan: {second.files} files in {second.seconds:.1f} s", flush=True)
            with engine.projections["health"].engine.connect() as conn:
                raised = {r["key"] for r in health.issues(conn)}
    found = planted & raised
    out = {
        "benchmark": "doctor",
        "files": first.files,
        "releases": args.releases,
        "first_scan_files_per_s": round(first.files / first.seconds, 1),
        "rescan_files_per_s": round(second.files / second.seconds, 1),
        "planted_found": len(found),
        "planted_total": len(planted),
        "false_issues": len(raised - planted),
        "missed": sorted(planted - raised)[:10],
        "invented": sorted(raised - planted)[:10],
        "rescan_new_issues": second.issues_raised,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

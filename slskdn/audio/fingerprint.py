"""Chromaprint fingerprints and the (optional, off by default) AcoustID lookup.

Debian's `fpcalc` exits 3 on every file although it prints a valid fingerprint, so
`acoustid.fingerprint_file` fails there. We decode with soundfile and feed 16-bit PCM to
`acoustid.fingerprint` (libchromaprint via ctypes): same output, no subprocess.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import acoustid
import chromaprint
import numpy as np
import soundfile as sf

MAX_SECONDS = 120  # what fpcalc and the AcoustID database use
DEFAULT_ACOUSTID_URL = "https://api.acoustid.org/v2/"


@dataclass(frozen=True)
class Fingerprint:
    fingerprint: str  # Chromaprint's compressed, base64 form (what AcoustID accepts)
    duration_s: float  # of the whole track, as AcoustID wants it


def _pcm_blocks(audio: np.ndarray, block_frames: int = 1 << 16) -> Iterator[bytes]:
    for start in range(0, len(audio), block_frames):
        block = audio[start : start + block_frames]
        # libsndfile normalises 16-bit PCM by 1/32768, so this restores the exact samples.
        yield np.clip(np.rint(block * 32768.0), -32768, 32767).astype("<i2").tobytes()


def fingerprint_pcm(audio: np.ndarray, sample_rate: int) -> str | None:
    """Fingerprint float audio (frames × channels, ±1.0) of at most `MAX_SECONDS`.
    None when Chromaprint found nothing to hash (under ~3 s of audio, or silence)."""
    channels = audio.shape[1] if audio.ndim == 2 else 1
    fp = acoustid.fingerprint(sample_rate, channels, _pcm_blocks(audio), MAX_SECONDS)
    text = fp.decode("ascii") if isinstance(fp, bytes) else str(fp)
    raw, _ = chromaprint.decode_fingerprint(text.encode())
    return text if raw else None


def fingerprint_file(path: str | Path) -> Fingerprint | None:
    """Decode the first two minutes with soundfile and fingerprint them."""
    with sf.SoundFile(str(path)) as f:
        head = f.read(min(f.frames, MAX_SECONDS * f.samplerate), dtype="float32",
                      always_2d=True)
        duration = f.frames / f.samplerate
        rate = f.samplerate
    fp = fingerprint_pcm(head, rate)
    return Fingerprint(fp, round(duration, 3)) if fp else None


def similarity(a: str, b: str) -> float:
    """Share of equal bits between two fingerprints over their common length (0.5 ≈
    unrelated, 1.0 identical); tolerant of lossy re-encoding, unlike string equality."""
    raw_a, _ = chromaprint.decode_fingerprint(a.encode())
    raw_b, _ = chromaprint.decode_fingerprint(b.encode())
    n = min(len(raw_a), len(raw_b))
    if n == 0:
        return 0.0
    xa = np.array(raw_a[:n], dtype=np.int64) & 0xFFFFFFFF
    xb = np.array(raw_b[:n], dtype=np.int64) & 0xFFFFFFFF
    diff = np.bitwise_xor(xa, xb)
    differing = sum(bin(int(v)).count("1") for v in diff)
    return 1.0 - differing / (32 * n)


# --- AcoustID lookup --------------------------------------------------------------------


@dataclass(frozen=True)
class AcoustidConfig:
    enabled: bool = False  # network lookups are opt-in
    api_key: str = ""
    base_url: str = DEFAULT_ACOUSTID_URL
    timeout_s: float = 10.0
    min_interval_s: float = 0.34  # AcoustID allows 3 requests per second


@dataclass(frozen=True)
class AcoustidRecording:
    recording_id: str
    title: str | None
    artists: tuple[str, ...]
    duration_s: int | None


@dataclass(frozen=True)
class AcoustidMatch:
    acoustid_id: str
    score: float
    recordings: tuple[AcoustidRecording, ...]


@dataclass(frozen=True)
class AcoustidResult:
    matches: tuple[AcoustidMatch, ...] = ()
    error: str | None = None  # None: the lookup ran and answered


class AcoustidClient:
    """Looks fingerprints up in AcoustID (or any server at `base_url`, e.g. a test one).

    Thread-safe; spaces requests by `min_interval_s`. Never raises for network or server
    errors: they come back in `AcoustidResult.error`.
    """

    def __init__(self, config: AcoustidConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._last = 0.0

    def lookup(self, fp: Fingerprint) -> AcoustidResult:
        if not self.config.enabled:
            return AcoustidResult(error="AcoustID lookups are disabled (acoustid.enabled)")
        body = urllib.parse.urlencode({
            "client": self.config.api_key, "format": "json", "meta": "recordings",
            "duration": int(fp.duration_s), "fingerprint": fp.fingerprint,
        }).encode()
        url = self.config.base_url.rstrip("/") + "/lookup"
        with self._lock:
            wait = self._last + self.config.min_interval_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
        request = urllib.request.Request(url, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                data = json.load(response)
        except urllib.error.HTTPError as exc:
            return AcoustidResult(error=f"AcoustID HTTP {exc.code}: {_error_message(exc)}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return AcoustidResult(error=f"AcoustID request failed: {exc}")
        return parse_lookup(data)


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(exc)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return exc.reason or "no message"


def parse_lookup(data: object) -> AcoustidResult:
    """Turn AcoustID's lookup JSON into plain dataclasses."""
    if not isinstance(data, dict) or data.get("status") != "ok":
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
        return AcoustidResult(error=f"AcoustID error: {message or 'malformed response'}")
    matches = []
    for result in data.get("results", []):
        recordings = tuple(
            AcoustidRecording(
                recording_id=rec["id"],
                title=rec.get("title"),
                artists=tuple(a.get("name", "") for a in rec.get("artists", [])),
                duration_s=rec.get("duration"),
            )
            for rec in result.get("recordings", [])
        )
        matches.append(AcoustidMatch(result["id"], float(result.get("score", 0.0)), recordings))
    matches.sort(key=lambda m: -m.score)
    return AcoustidResult(matches=tuple(matches))

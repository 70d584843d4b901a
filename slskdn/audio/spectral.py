"""Spectral and sample-level analysis of decoded audio (numpy only; no file I/O here).

Input is a few decoded segments of a file (see `analysis.py`), not the whole file: the
long-term spectrum converges after a few seconds of music, and decoding is the cost.

What is measured, and how:

* Spectrum: mean Hann-window power of the mid channel, nfft 4096, non-overlapping frames,
  smoothed over ±2 bins, in dB.
* Cutoff ("where the content ends"): a *wall* is a bin k where the mean level over
  [k-600, k-300] Hz is >= 30 dB above the mean over [k+300, k+600] Hz and no smoothed bin
  above k+300 Hz comes within 15 dB of it. The lowest wall is reported, refined to the
  frequency from which the level stays 10 dB under the passband 1.2-2.4 kHz below it (the
  -10 dB point the corpus ground truth uses). A wall at >= 95 % of Nyquist is the
  anti-alias filter ("full_band"). Without a wall, the cutoff is the highest frequency
  within 40 dB of the 1-5 kHz level ("rolloff", or "full_band" at 95 % of Nyquist).
* Brick wall vs roll-off: a wall is a codec-style "brick_wall" only if it is also found,
  within ±300 Hz, in at least 60 % of the segments that have content there.
* Upsampling: a wall at an old Nyquist (95-101 % of half a standard rate >= 44.1 kHz), or content
  that fits in a 44.1/48 kHz file when the file is 88.2 kHz or more.
* Effective bit depth (integer PCM > 16 bits): trailing zero bits of the OR of all samples
  read as int32; and, because a gain change fills those bits, the count of distinct values
  (16-bit content has at most 65,536 whatever the gain).
* Clipping: samples within 1e-4 of the channel's peak (peak >= -6 dBFS) that sit in runs of
  >= 3 equal-level samples; a natural peak is a single sample.
* Dynamic range: DR-meter style (TT DR): per 3-s block and channel, RMS·√2 and peak;
  DR = 20·log10(second-highest block peak / sqrt(mean of the loudest 20 % block RMS²)),
  averaged over channels. On sampled blocks it is an estimate of the DR meter's figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NFFT = 4096
WALL_DROP_DB = 30.0
WALL_CLEARANCE_DB = 15.0
EDGE_DB = 10.0
ROLLOFF_DB = 40.0
ANTI_ALIAS_FRACTION = 0.95
MIN_WALL_HZ = 4000.0
STANDARD_RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)
_TINY = 1e-20


@dataclass(frozen=True)
class SpectralReport:
    """Facts measured on decoded samples. Frequencies in Hz, levels in dB."""

    sample_rate: int
    analysed_seconds: float
    segments: int
    cutoff_hz: float | None  # None: silent
    cutoff_kind: str  # "brick_wall" | "rolloff" | "full_band" | "silent"
    wall_drop_db: float  # level drop across the lowest wall (0.0 when there is none)
    wall_consistency: float  # share of segments with content that show the same wall
    upsampled_from_hz: int | None
    effective_bit_depth: int | None  # measured, for integer PCM deeper than 16 bits
    clipping_ratio: float  # share of samples in clipped runs
    peak_dbfs: float
    dynamic_range_db: float | None


@dataclass(frozen=True)
class _Wall:
    hz: float
    drop_db: float


def power_db(mono: np.ndarray, nfft: int = NFFT) -> np.ndarray | None:
    """Mean Hann-window power spectrum in dB, smoothed; None if shorter than one frame."""
    frames = len(mono) // nfft
    if frames == 0:
        return None
    blocks = mono[: frames * nfft].reshape(frames, nfft) * np.hanning(nfft).astype(mono.dtype)
    power = (np.abs(np.fft.rfft(blocks, axis=1)) ** 2).mean(axis=0)
    return _smooth(10 * np.log10(power + _TINY), 5)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    pad = np.pad(x, width // 2, mode="edge")
    return np.convolve(pad, np.ones(width) / width, mode="valid")


def find_wall(level: np.ndarray, sample_rate: int) -> _Wall | None:
    """The lowest codec-style wall in a dB spectrum, or None (see module docstring)."""
    bin_hz = sample_rate / (2 * (len(level) - 1))
    gap = max(1, round(300 / bin_hz))
    csum = np.concatenate(([0.0], np.cumsum(level)))
    k = np.arange(2 * gap, len(level) - 2 * gap)
    below = (csum[k - gap] - csum[k - 2 * gap]) / gap
    above = (csum[k + 2 * gap] - csum[k + gap]) / gap
    tail_max = np.maximum.accumulate(level[::-1])[::-1]  # max of level[i:]
    ok = ((below - above) >= WALL_DROP_DB) & (tail_max[k + gap] <= below - WALL_CLEARANCE_DB)
    ok &= k * bin_hz >= MIN_WALL_HZ
    hits = np.nonzero(ok)[0]
    if len(hits) == 0:
        return None
    run_end = hits[0]
    while run_end + 1 < len(ok) and ok[run_end + 1]:
        run_end += 1
    run = slice(hits[0], run_end + 1)
    best = hits[0] + int(np.argmax((below - above)[run]))
    centre = int(k[best])
    # Passband reference 1.2-2.4 kHz below the wall: some codecs (Vorbis at low q) leave
    # a 10-25 dB-down shelf just under the wall, which belongs to the cut, not the band.
    ref = float(np.median(level[max(0, centre - 8 * gap) : max(1, centre - 4 * gap)]))
    # The edge: the first bin from which the level *stays* 10 dB down, judged by the median
    # of the next ~150 Hz so one stray bin in a shelf neither ends nor extends the band.
    half = max(1, round(75 / bin_hz))
    lo, hi = max(0, centre - 6 * gap), min(len(level) - 2 * half, centre + 2 * gap)
    edge = centre
    if hi > lo:
        runs = np.lib.stride_tricks.sliding_window_view(level, 2 * half)[lo:hi]
        down = np.nonzero(np.median(runs, axis=1) < ref - EDGE_DB)[0]
        if len(down):
            edge = lo + int(down[0]) + half
    return _Wall(hz=edge * bin_hz, drop_db=float((below - above)[best]))


def _rolloff_hz(level: np.ndarray, sample_rate: int) -> float:
    bin_hz = sample_rate / (2 * (len(level) - 1))
    lo, hi = round(1000 / bin_hz), round(5000 / bin_hz)
    ref = float(np.median(level[lo:hi]))
    above = np.nonzero(level >= ref - ROLLOFF_DB)[0]
    return float(above.max() * bin_hz) if len(above) else 0.0


def upsampled_from(cutoff_hz: float, sample_rate: int) -> int | None:
    """The standard rate this content probably came from, if it fits in a lower one."""
    # Rates below 44.1 kHz are left out: their Nyquists (11, 16 kHz) coincide with lossy
    # cutoffs (MP3 96-112 kbps and Vorbis q0 sit at ~15.2 kHz), and lossy is far likelier.
    for rate in (r for r in STANDARD_RATES if r >= 44100):
        if rate >= sample_rate:
            return None
        nyquist = rate / 2
        if cutoff_hz > nyquist * 1.01:
            continue
        at_old_nyquist = cutoff_hz >= 0.95 * nyquist
        # A lossy cutoff inside a hi-res file: it fits a CD-rate file with room to spare.
        hires_room = rate >= 44100 and nyquist <= 0.6 * sample_rate / 2
        if at_old_nyquist or hires_room:
            return rate
    return None


def effective_bit_depth(samples_int32: np.ndarray) -> int:
    """Bits actually used by integer PCM read as left-justified int32 (see module doc)."""
    used = int(np.bitwise_or.reduce(samples_int32.ravel().astype(np.int64) & 0xFFFFFFFF))
    if used == 0:
        return 0
    trailing = (used & -used).bit_length() - 1
    bits = 32 - trailing
    if bits > 16 and samples_int32.size >= 65536:
        # np.unique hashes slowly (numpy 2.4); sorting 2^18 samples costs ~10 ms.
        sample = np.sort(samples_int32.ravel()[: 1 << 18])
        distinct = 1 + int(np.count_nonzero(np.diff(sample)))
        span = (int(sample[-1]) - int(sample[0])) >> trailing
        if distinct <= 65536 and distinct < 0.5 * min(sample.size, span):
            return 16  # a gain was applied to 16-bit samples: more bits, no more values
    return bits


def clipping_ratio(chans: np.ndarray) -> float:
    """Share of samples in runs of >= 3 at the channel peak (peak >= -6 dBFS).
    `chans` is channels × frames (contiguous rows: numpy reduces those fastest)."""
    if chans.size == 0 or chans.shape[1] < 3:
        return 0.0
    magnitude = np.abs(chans)
    peaks = magnitude.max(axis=1, keepdims=True)
    at = (magnitude >= peaks - 1e-4) & (peaks >= 0.5)
    run = at[:, 2:] & at[:, 1:-1] & at[:, :-2]
    in_run = np.zeros_like(at)
    in_run[:, 2:] |= run
    in_run[:, 1:-1] |= run
    in_run[:, :-2] |= run
    return int(np.count_nonzero(in_run)) / chans.size


def dynamic_range_db(blocks: list[np.ndarray]) -> float | None:
    """DR-meter-style dynamic range over 3-s blocks, each channels × frames."""
    if not blocks:
        return None
    rms = np.array([np.sqrt(2 * np.einsum("ij,ij->i", b, b, dtype=np.float64) / b.shape[1])
                    for b in blocks])
    peaks = np.sort(np.array([np.abs(b).max(axis=1) for b in blocks]), axis=0)
    # The DR meter takes the second-highest peak to ignore one stray peak; with few
    # (sampled) blocks that would compare a quiet block's peak to a loud block's RMS.
    peak = peaks[-2] if len(peaks) >= 5 else peaks[-1]
    loud = np.sort(rms, axis=0)[-max(1, len(rms) // 5) :]
    loud_rms = np.sqrt(np.mean(loud**2, axis=0))
    ok = (loud_rms > 0) & (peak > 0)
    if not ok.any():
        return None
    return round(float(np.mean(20 * np.log10(peak[ok] / loud_rms[ok]))), 1)


def analyse_segments(
    segments: list[np.ndarray],
    sample_rate: int,
    *,
    int_samples: np.ndarray | None = None,
) -> SpectralReport:
    """Analyse float segments (frames × channels); `int_samples` for >16-bit integer PCM."""
    # Channels × frames, contiguous: reductions along rows are far faster than down columns.
    parts = [np.ascontiguousarray(seg.T) for seg in segments]
    chans = np.concatenate(parts, axis=1) if parts else np.zeros((1, 0), np.float32)
    peak = float(max(chans.max(initial=0.0), -chans.min(initial=0.0)))
    peak_dbfs = 20 * np.log10(peak) if peak > 0 else -200.0
    spectra = [s for s in (power_db(p.mean(axis=0)) for p in parts) if s is not None]
    cutoff, kind, drop, consistency, ups = None, "silent", 0.0, 0.0, None
    if spectra and peak_dbfs > -70:
        mean_level = 10 * np.log10(np.mean([10 ** (s / 10) for s in spectra], axis=0))
        nyquist = sample_rate / 2
        wall = find_wall(mean_level, sample_rate)
        if wall is not None and wall.hz < ANTI_ALIAS_FRACTION * nyquist:
            cutoff, drop = wall.hz, wall.drop_db
            seg_walls = [find_wall(s, sample_rate) for s in spectra]
            same = sum(w is not None and abs(w.hz - wall.hz) <= 300 for w in seg_walls)
            consistency = same / len(spectra)
            kind = "brick_wall" if consistency >= 0.6 else "rolloff"
        else:
            cutoff = _rolloff_hz(mean_level, sample_rate)
            kind = "full_band" if cutoff >= ANTI_ALIAS_FRACTION * nyquist else "rolloff"
        if kind != "full_band":
            ups = upsampled_from(cutoff, sample_rate)
    blocks = [p for p in parts if p.shape[1] >= sample_rate]  # DR needs ~3-s blocks
    return SpectralReport(
        sample_rate=sample_rate,
        analysed_seconds=round(chans.shape[1] / sample_rate, 3) if sample_rate else 0.0,
        segments=len(segments),
        cutoff_hz=None if cutoff is None else round(cutoff, 1),
        cutoff_kind=kind,
        wall_drop_db=round(drop, 1),
        wall_consistency=round(consistency, 3),
        upsampled_from_hz=ups,
        effective_bit_depth=None if int_samples is None else effective_bit_depth(int_samples),
        clipping_ratio=clipping_ratio(chans),
        peak_dbfs=round(peak_dbfs, 2),
        dynamic_range_db=dynamic_range_db(blocks),
    )

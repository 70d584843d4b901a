"""Synthetic test signals: broadband "music" that behaves like a real master spectrally.

Real codecs are judged by what they remove, so the source must have content up to the top of
the band with a *natural* roll-off (no wall of its own), time-varying levels (so segments
differ, as in music) and a melody (so Chromaprint, which works on chroma, sees distinct notes).
"""

from __future__ import annotations

import numpy as np

STANDARD_RATES = (44100, 48000, 88200, 96000)


def music(
    seconds: float,
    *,
    sample_rate: int = 44100,
    seed: int = 0,
    channels: int = 2,
    rolloff_hz: float = 19000.0,
    rolloff_order: int = 4,
) -> np.ndarray:
    """Return float64 (frames, channels) audio peaking at -3 dBFS.

    Spectrum: pink noise shaped by a gentle Butterworth-like roll-off of `rolloff_order`
    above `rolloff_hz` (at 19 kHz/4th order: -3 dB at 19 kHz, ~-8 dB at 22 kHz), plus a
    seeded melody with harmonics and a drum-like amplitude envelope.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    freqs = np.fft.rfftfreq(n, 1 / sample_rate)
    shape = 1 / np.sqrt(np.maximum(freqs, 40.0) / 40.0)
    shape /= np.sqrt(1 + (freqs / rolloff_hz) ** (2 * rolloff_order))
    # Independent noise per channel: a delayed copy would comb-filter the mid signal.
    noise = np.stack(
        [np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n) for _ in range(channels)], 1
    )
    noise /= np.abs(noise).max()
    t = np.arange(n) / sample_rate
    steps = max(1, int(seconds * 4))
    notes = 440.0 * 2 ** (rng.integers(-12, 12, size=steps) / 12)
    inst_freq = np.repeat(notes, n // steps + 1)[:n]
    phase = 2 * np.pi * np.cumsum(inst_freq) / sample_rate
    melody = sum(np.sin(k * phase) / k for k in (1, 2, 3, 5))
    beat = 0.35 + 0.65 * np.exp(-((t * 2.0) % 1.0) * 6)  # two "hits" a second
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / 2.5)  # slow phrase-like level changes
    mix = 0.5 * noise * (beat * swell)[:, None] + 0.25 * (melody * swell)[:, None]
    return mix / np.abs(mix).max() * 10 ** (-3 / 20)


def brickwall(x: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """Ideal FFT lowpass: zero every bin above `cutoff_hz` (a mastering/anti-alias wall)."""
    spec = np.fft.rfft(x, axis=0)
    spec[np.fft.rfftfreq(len(x), 1 / sample_rate) > cutoff_hz] = 0
    return np.fft.irfft(spec, len(x), axis=0)


def resample_fft(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling by zero-padding the spectrum (what a good upsampler does:
    everything above the old Nyquist is empty)."""
    n_out = round(len(x) * dst_rate / src_rate)
    spec = np.fft.rfft(x, axis=0)
    out = np.zeros((n_out // 2 + 1, x.shape[1]), dtype=complex)
    keep = min(len(spec), len(out))
    out[:keep] = spec[:keep]
    return np.fft.irfft(out, n_out, axis=0) * (n_out / len(x))


def quantize(x: np.ndarray, bits: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Quantize float audio to signed integers of `bits`, with TPDF dither if `rng` is given."""
    scale = 2 ** (bits - 1)
    y = x * (scale - 1)
    if rng is not None:
        y = y + rng.uniform(-0.5, 0.5, y.shape) + rng.uniform(-0.5, 0.5, y.shape)
    return np.clip(np.round(y), -scale, scale - 1).astype(np.int64)

"""Spectral verdicts on the corpus, against the generator's ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from slskdn.audio.spectral import analyse_segments, effective_bit_depth, find_wall, power_db
from slskdn.testing import signals

from .conftest import CLIP_SECONDS, Analysed

TOLERANCE_HZ = 200


def _names(corpus: Analysed, predicate) -> list[str]:  # type: ignore[no-untyped-def]
    names = [n for n, f in corpus.files.items() if predicate(f.expected)]
    assert names, "the corpus lost the files this test is about"
    return names


def test_cutoff_is_within_200_hz_of_the_encoder_lowpass(corpus: Analysed) -> None:
    errors = {}
    for name in _names(corpus, lambda e: e.cutoff_hz is not None):
        spectral = corpus.results[name].spectral
        assert spectral is not None and spectral.cutoff_hz is not None, name
        errors[name] = abs(spectral.cutoff_hz - corpus.files[name].expected.cutoff_hz)
    assert max(errors.values()) <= TOLERANCE_HZ, errors


def test_lossy_cutoffs_are_brick_walls(corpus: Analysed) -> None:
    for name in _names(corpus, lambda e: e.source is not None and e.cutoff_hz is not None):
        spectral = corpus.results[name].spectral
        assert spectral is not None
        assert spectral.cutoff_kind == "brick_wall", name
        assert spectral.wall_drop_db >= 30 and spectral.wall_consistency >= 0.6, name


@pytest.mark.parametrize("source", ["mp3@128", "mp3@160", "mp3@192", "mp3@256",
                                    "vorbis@q0", "vorbis@q1", "vorbis@q2", "vorbis@q3",
                                    "vorbis@q4"])
def test_lossless_made_from_lossy_is_flagged(corpus: Analysed, source: str) -> None:
    names = _names(corpus, lambda e: e.source == source and e.kind == "transcode")
    for name in names:
        quality = corpus.results[name].quality
        assert quality is not None and quality.transcode.suspect, name
        assert "brick-wall cutoff" in quality.transcode.reason
        assert quality.transcode.likely_source_kbps is not None
        assert quality.score < 0.7  # scored as (a bit below) its lossy source


def test_reason_names_the_cutoff_and_likely_source(corpus: Analysed) -> None:
    verdict = corpus.results["mp3_128_to_flac_0.flac"].quality.transcode  # type: ignore[union-attr]
    assert verdict.reason.startswith("FLAC with a 16.6 kHz brick-wall cutoff, typical of a 128")
    assert verdict.likely_source_kbps == 128


def test_no_genuine_lossless_is_flagged(corpus: Analysed) -> None:
    for name in _names(corpus, lambda e: e.kind in ("genuine", "tagged", "fake_bit_depth",
                                                    "clipped", "upsampled")):
        quality = corpus.results[name].quality
        assert quality is not None and not quality.transcode.suspect, (name, quality)


def test_genuine_lossy_files_are_not_flagged(corpus: Analysed) -> None:
    for name in _names(corpus, lambda e: e.kind == "lossy"):
        quality = corpus.results[name].quality
        assert quality is not None and not quality.transcode.suspect, name


def test_fake_320_made_from_128_is_flagged(corpus: Analysed) -> None:
    quality = corpus.results["fake320_from_128_0.mp3"].quality
    assert quality is not None and quality.transcode.suspect
    assert "LAME header says lowpass 20.5 kHz" in quality.transcode.reason
    assert quality.transcode.likely_source_kbps == 128
    genuine_128 = corpus.results["mp3_128_0.mp3"].quality
    assert genuine_128 is not None and quality.score < genuine_128.score


def test_upsampling_is_detected_and_real_hires_is_not(corpus: Analysed) -> None:
    up = corpus.results["upsampled_96k_0.flac"]
    assert up.spectral is not None and up.spectral.upsampled_from_hz == 44100
    hires = corpus.results["genuine_96k_0.flac"]
    assert hires.spectral is not None and hires.spectral.upsampled_from_hz is None
    assert hires.spectral.cutoff_kind == "full_band"
    assert up.quality is not None and hires.quality is not None
    assert up.quality.score < hires.quality.score


@pytest.mark.parametrize("name", ["fake24_0.flac", "fake24_gain_0.flac"])
def test_16_bit_audio_in_24_bits_is_detected(corpus: Analysed, name: str) -> None:
    result = corpus.results[name]
    assert result.probe is not None and result.probe.bit_depth == 24
    assert result.spectral is not None and result.spectral.effective_bit_depth == 16
    assert result.quality is not None and result.quality.fake_bit_depth
    genuine = corpus.results["genuine24_0.flac"]
    assert genuine.spectral is not None and genuine.spectral.effective_bit_depth == 24
    assert genuine.quality is not None and not genuine.quality.fake_bit_depth


def test_clipping_is_detected_and_lowers_dynamic_range(corpus: Analysed) -> None:
    clipped, clean = corpus.results["clipped_0.flac"], corpus.results["genuine_0.flac"]
    assert clipped.spectral is not None and clean.spectral is not None
    assert clipped.spectral.clipping_ratio > 0.005
    assert clean.spectral.clipping_ratio == 0.0
    assert clipped.quality is not None and clipped.quality.clipped
    assert clean.quality is not None and not clean.quality.clipped
    assert clipped.spectral.dynamic_range_db < clean.spectral.dynamic_range_db - 2  # type: ignore[operator]


def test_vorbis_q6_is_reported_as_undetectable(corpus: Analysed) -> None:
    # Documented limit: no lowpass, nothing to see. Fails loudly if that ever changes.
    result = corpus.results["vorbis_q6_to_flac_0.flac"]
    assert result.spectral is not None and result.spectral.cutoff_kind == "full_band"


# Pure-numpy checks of the detector, independent of any codec.


def test_an_ideal_wall_in_white_noise_is_found_where_it_is() -> None:
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((44100 * 3, 1)) * 0.1
    walled = signals.brickwall(noise, 44100, 16000.0)
    level = power_db(walled[:, 0])
    assert level is not None
    wall = find_wall(level, 44100)
    assert wall is not None and abs(wall.hz - 16000) <= 50


def test_a_gentle_rolloff_is_not_a_wall() -> None:
    soft = signals.music(CLIP_SECONDS, rolloff_hz=6000, rolloff_order=2)
    report = analyse_segments([soft], 44100)
    assert report.cutoff_kind != "brick_wall" and report.upsampled_from_hz is None


def test_silence_has_no_cutoff() -> None:
    report = analyse_segments([np.zeros((44100 * 3, 2), np.float32)], 44100)
    assert report.cutoff_kind == "silent" and report.cutoff_hz is None


def test_effective_bit_depth_counts_used_bits() -> None:
    rng = np.random.default_rng(0)
    pcm24 = rng.integers(-(2**23), 2**23, 200_000).astype(np.int32) << 8
    assert effective_bit_depth(pcm24) == 24
    assert effective_bit_depth((pcm24 >> 16) << 16) == 16

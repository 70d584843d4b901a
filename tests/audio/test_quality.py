"""The pure transcode verdict and quality score (slskdn.domain.quality)."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from slskdn.domain.quality import (
    QualityEvidence,
    TranscodeVerdict,
    assess,
    describe_source,
    quality_score,
    transcode_verdict,
)

FLAC = QualityEvidence(codec="flac", container="FLAC", lossless=True, sample_rate=44100,
                       bit_depth=16, cutoff_hz=22050, cutoff_kind="full_band")
MP3 = QualityEvidence(codec="mp3", container="MP3", lossless=False, sample_rate=44100,
                      bitrate_kbps=320, cutoff_hz=20080, cutoff_kind="brick_wall",
                      encoder="LAME 3.100.0+", encoder_lowpass_hz=20500)


def test_flac_with_a_16_khz_wall_reads_like_the_brief() -> None:
    e = dataclasses.replace(FLAC, cutoff_hz=16000, cutoff_kind="brick_wall")
    verdict = transcode_verdict(e)
    assert verdict.suspect and verdict.likely_source_kbps == 128
    assert verdict.reason == ("FLAC with a 16.0 kHz brick-wall cutoff, typical of a "
                              "≤128 kbps MP3 (or Vorbis q1) source")


def test_a_wall_near_nyquist_or_a_soft_rolloff_is_not_a_transcode() -> None:
    assert not transcode_verdict(dataclasses.replace(FLAC, cutoff_hz=21300,
                                                     cutoff_kind="brick_wall")).suspect
    assert not transcode_verdict(dataclasses.replace(FLAC, cutoff_hz=15000,
                                                     cutoff_kind="rolloff")).suspect


def test_upsampled_wall_at_the_old_nyquist_is_not_a_transcode() -> None:
    e = dataclasses.replace(FLAC, sample_rate=96000, bit_depth=24, cutoff_hz=22030,
                            cutoff_kind="brick_wall", upsampled_from_hz=44100)
    result = assess(e)
    assert not result.transcode.suspect and result.upsampled_from_hz == 44100
    assert result.score == 0.85
    from_mp3 = dataclasses.replace(e, cutoff_hz=16600)  # an MP3 upsampled to 96 kHz
    assert transcode_verdict(from_mp3).suspect


def test_lossless_with_a_lossy_encoder_tag_is_suspect() -> None:
    verdict = transcode_verdict(dataclasses.replace(FLAC, encoder="LAME 3.100"))
    assert verdict.suspect and "lossy encoder (LAME 3.100)" in verdict.reason


def test_a_320_whose_audio_stops_at_16_khz_is_suspect() -> None:
    fake = dataclasses.replace(MP3, cutoff_hz=16600)
    verdict = transcode_verdict(fake)
    assert verdict.suspect and verdict.likely_source_kbps == 128
    assert "LAME header says lowpass 20.5 kHz" in verdict.reason
    # Without a LAME header, the bitrate rule still catches it.
    no_header = dataclasses.replace(fake, encoder=None, encoder_lowpass_hz=None)
    assert "likely re-encoded from a lower bitrate" in transcode_verdict(no_header).reason
    assert not transcode_verdict(MP3).suspect


def test_source_table_words() -> None:
    assert describe_source(18690) == ("192 kbps MP3", 192)
    assert describe_source(20340) == ("Vorbis q5", 208)
    assert describe_source(20700)[1] is None


def test_reference_scores() -> None:
    assert quality_score(FLAC) == 1.0
    assert quality_score(MP3) == 0.7
    assert quality_score(dataclasses.replace(MP3, bitrate_kbps=128, cutoff_hz=16590,
                                             encoder_lowpass_hz=17000)) == 0.49
    flac_from_128 = dataclasses.replace(FLAC, cutoff_hz=16590, cutoff_kind="brick_wall")
    assert 0.40 < quality_score(flac_from_128) < 0.49  # under the MP3 it came from


evidence = st.builds(
    QualityEvidence,
    codec=st.sampled_from(["flac", "mp3", "vorbis", "opus", "aac", "alac"]),
    container=st.just("X"),
    lossless=st.booleans(),
    sample_rate=st.sampled_from([8000, 22050, 32000, 44100, 48000, 96000, 192000, 384000]),
    bitrate_kbps=st.none() | st.floats(8, 2000),
    bit_depth=st.none() | st.sampled_from([16, 24, 32]),
    cutoff_hz=st.none() | st.floats(1000, 48000),
    cutoff_kind=st.none() | st.sampled_from(["brick_wall", "rolloff", "full_band", "silent"]),
    upsampled_from_hz=st.none() | st.sampled_from([44100, 48000]),
    effective_bit_depth=st.none() | st.sampled_from([8, 16, 24]),
    clipping_ratio=st.floats(0, 1),
    encoder=st.none() | st.sampled_from(["LAME 3.100", "reference libFLAC 1.4.2"]),
    encoder_lowpass_hz=st.none() | st.integers(5000, 22000),
)


@given(evidence)
def test_score_is_bounded(e: QualityEvidence) -> None:
    assert 0.0 <= quality_score(e) <= 1.0


@given(evidence, st.floats(0, 1))
def test_more_clipping_never_raises_the_score(e: QualityEvidence, extra: float) -> None:
    worse = dataclasses.replace(e, clipping_ratio=min(1.0, e.clipping_ratio + extra))
    assert quality_score(worse) <= quality_score(e)


@given(evidence, st.floats(0, 1000))
def test_more_bitrate_never_lowers_a_lossy_score(e: QualityEvidence, extra: float) -> None:
    e = dataclasses.replace(e, lossless=False, cutoff_kind=None)  # same verdict both sides
    more = dataclasses.replace(e, bitrate_kbps=(e.bitrate_kbps or 0) + extra)
    assert quality_score(more) >= quality_score(e)


@given(evidence)
def test_being_upsampled_never_raises_the_score(e: QualityEvidence) -> None:
    clean = dataclasses.replace(e, upsampled_from_hz=None)
    verdict = transcode_verdict(clean)
    assert quality_score(dataclasses.replace(e, upsampled_from_hz=44100), verdict) <= (
        quality_score(clean, verdict))


@given(evidence, st.floats(0, 1), st.none() | st.sampled_from([64, 128, 192, 320]))
def test_a_suspected_transcode_never_scores_higher(e: QualityEvidence, confidence: float,
                                                   kbps: int | None) -> None:
    clean = TranscodeVerdict(False, "clean")
    suspect = TranscodeVerdict(True, "suspect", None, kbps, confidence)
    assert quality_score(e, suspect) <= quality_score(e, clean)


@given(evidence)
def test_lossless_scores_at_least_lossy_with_the_same_flags(e: QualityEvidence) -> None:
    verdict = TranscodeVerdict(False, "clean")
    lossless = dataclasses.replace(e, lossless=True)
    assert quality_score(lossless, verdict) >= quality_score(
        dataclasses.replace(e, lossless=False), verdict)

"""Transcode verdict and quality score: pure policies over plain measured facts.

Standard library only. The audio adapter (`slskdn.audio`) measures; this module judges.
See docs/audio.md for the measurements behind the numbers below.
"""

from __future__ import annotations

from dataclasses import dataclass

ANTI_ALIAS_FRACTION = 0.95  # a wall this close to Nyquist is the ADC/resampler filter
SOURCE_MATCH_HZ = 250.0
LOSSY_ENCODER_NAMES = ("lame", "xing", "fhg", "fraunhofer", "itunes", "nero", "faac", "fdk",
                       "libvorbis", "aotuv", "libopus", "blade", "gogo", "mp3")


@dataclass(frozen=True)
class SourceClass:
    """A lossy encoding whose lowpass we measured (44.1 kHz input)."""

    codec: str
    label: str
    kbps: int  # nominal bitrate of the class (Vorbis: typical at that quality)
    cutoff_hz: int


# LAME 3.100 CBR and libvorbis 1.3.7, measured with white noise (docs/audio.md). LAME 224
# and 256 share a lowpass; LAME V0 and Vorbis q6+ have none and are absent on purpose.
SOURCE_CLASSES: tuple[SourceClass, ...] = (
    SourceClass("mp3", "≤112 kbps MP3", 112, 15170),
    SourceClass("mp3", "128 kbps MP3", 128, 16590),
    SourceClass("mp3", "160 kbps MP3", 160, 17310),
    SourceClass("mp3", "192 kbps MP3", 192, 18690),
    SourceClass("mp3", "224–256 kbps MP3", 256, 19390),
    SourceClass("mp3", "320 kbps MP3", 320, 20080),
    SourceClass("vorbis", "Vorbis q0", 64, 15170),
    SourceClass("vorbis", "Vorbis q1", 80, 15860),
    SourceClass("vorbis", "Vorbis q2", 96, 16550),
    SourceClass("vorbis", "Vorbis q3", 112, 17240),
    SourceClass("vorbis", "Vorbis q4", 128, 18970),
    SourceClass("vorbis", "Vorbis q5", 160, 20340),
)
# Bits of quality per kbps relative to MP3 (rough consensus of listening tests).
CODEC_EFFICIENCY = {"mp3": 1.0, "vorbis": 1.3, "aac": 1.3, "opus": 1.6, "mp2": 0.7}


@dataclass(frozen=True)
class QualityEvidence:
    """What the analyser measured about one file, as plain data."""

    codec: str  # "flac", "mp3", "vorbis", "opus", "aac", "alac", "pcm", ...
    container: str  # for wording: "FLAC", "MP3", "Ogg", "M4A", ...
    lossless: bool
    sample_rate: int
    bitrate_kbps: float | None = None
    bit_depth: int | None = None
    cutoff_hz: float | None = None
    cutoff_kind: str | None = None  # "brick_wall" | "rolloff" | "full_band" | "silent"
    upsampled_from_hz: int | None = None
    effective_bit_depth: int | None = None
    clipping_ratio: float = 0.0
    encoder: str | None = None
    encoder_lowpass_hz: int | None = None  # from a LAME header


@dataclass(frozen=True)
class TranscodeVerdict:
    suspect: bool
    reason: str
    likely_source: str | None = None
    likely_source_kbps: int | None = None
    confidence: float = 0.0  # 0..1; how sure the rule that fired is


@dataclass(frozen=True)
class QualityAssessment:
    score: float
    transcode: TranscodeVerdict
    upsampled_from_hz: int | None
    fake_bit_depth: bool
    clipped: bool


def likely_sources(cutoff_hz: float) -> tuple[SourceClass, ...]:
    """Every class whose lowpass is within 250 Hz of `cutoff_hz`."""
    return tuple(c for c in SOURCE_CLASSES if abs(c.cutoff_hz - cutoff_hz) <= SOURCE_MATCH_HZ)


def describe_source(cutoff_hz: float) -> tuple[str, int | None]:
    """("128 kbps MP3 (or Vorbis q2)", 128): the likely source of a cutoff in words and in
    MP3-equivalent kbps. Without an exact MP3 match the next MP3 class above bounds it
    ("≤128 kbps MP3"); with none at all, (…, None)."""
    matches = likely_sources(cutoff_hz)
    mp3 = [c for c in matches if c.codec == "mp3"]
    others = [c for c in matches if c.codec != "mp3"]
    if mp3:
        main, kbps = mp3[0].label, mp3[0].kbps
    else:
        above = [c for c in SOURCE_CLASSES if c.codec == "mp3" and c.cutoff_hz > cutoff_hz]
        if above:
            bound = min(above, key=lambda c: c.cutoff_hz)
            main, kbps = f"≤{bound.label}", bound.kbps
        elif others:
            first = others.pop(0)
            main, kbps = first.label, round(first.kbps * CODEC_EFFICIENCY["vorbis"])
        else:
            return "an unusual lowpass (a high-bitrate encoder or a mastering filter)", None
    also = f" (or {', '.join(c.label for c in others)})" if others else ""
    return main + also, kbps


def _typical(source: str) -> str:
    return source if source.startswith("an unusual") else f"typical of a {source} source"


def _khz(hz: float) -> str:
    return f"{hz / 1000:.1f} kHz"


def _lossy_encoder(encoder: str | None) -> str | None:
    low = (encoder or "").lower()
    return encoder if any(name in low for name in LOSSY_ENCODER_NAMES) else None


def transcode_verdict(e: QualityEvidence) -> TranscodeVerdict:
    """Is this file a transcode from a (lower-quality) lossy source? With a reason in words."""
    nyquist = e.sample_rate / 2
    wall = e.cutoff_kind == "brick_wall" and e.cutoff_hz is not None
    cutoff = e.cutoff_hz or 0.0
    if e.lossless:
        # A wall at the Nyquist of the rate it was upsampled from is not a lossy cutoff.
        at_old_nyquist = e.upsampled_from_hz and cutoff >= ANTI_ALIAS_FRACTION * (
            e.upsampled_from_hz / 2)
        if wall and cutoff < ANTI_ALIAS_FRACTION * nyquist and not at_old_nyquist:
            source, kbps = describe_source(cutoff)
            confidence = 0.9 if cutoff <= 19600 else 0.6  # 320-class walls: masters too
            return TranscodeVerdict(
                True, f"{e.container} with a {_khz(cutoff)} brick-wall cutoff, {_typical(source)}",
                source, kbps, confidence)
        lossy = _lossy_encoder(e.encoder)
        if lossy:
            return TranscodeVerdict(
                True, f"{e.container} whose encoder tag names a lossy encoder ({lossy})",
                None, None, 0.7)
        if e.cutoff_kind is None:
            return TranscodeVerdict(False, f"{e.container}: spectrum not measured; not judged")
        return TranscodeVerdict(False, f"{e.container}: no lossy cutoff or encoder found")
    if wall and e.encoder_lowpass_hz and cutoff < e.encoder_lowpass_hz - 1500:
        source, kbps = describe_source(cutoff)
        return TranscodeVerdict(
            True,
            f"{e.container} whose LAME header says lowpass {_khz(e.encoder_lowpass_hz)} but the "
            f"audio stops at {_khz(cutoff)}, {_typical(source)}: encoded from an already "
            "band-limited source", source, kbps, 0.9)
    if wall and e.bitrate_kbps:
        claimed = e.bitrate_kbps * CODEC_EFFICIENCY.get(e.codec, 1.0)
        source, kbps = describe_source(cutoff)
        if kbps is not None and kbps * 1.4 <= claimed and cutoff <= 19000:
            return TranscodeVerdict(
                True,
                f"{e.container} at {e.bitrate_kbps:.0f} kbps with a {_khz(cutoff)} brick-wall "
                f"cutoff, {_typical(source)}: likely re-encoded from a lower bitrate",
                source, kbps, 0.8)
    if e.cutoff_kind is None:
        return TranscodeVerdict(False, f"{e.container}: spectrum not measured; not judged")
    return TranscodeVerdict(False, f"{e.container}: cutoff consistent with its bitrate")


def lossy_format_score(codec: str, kbps: float | None) -> float:
    """0.35 (unknown/very low bitrate) to 0.70 (MP3-equivalent 320 kbps or more)."""
    if not kbps:
        return 0.35
    equivalent = kbps * CODEC_EFFICIENCY.get(codec, 1.0)
    return 0.35 + 0.35 * min(1.0, equivalent / 320)


def sample_rate_factor(sample_rate: int) -> float:
    if 44100 <= sample_rate <= 192000:
        return 1.0
    if sample_rate > 192000:
        return 0.95
    if sample_rate >= 32000:
        return 0.9
    return 0.7 if sample_rate >= 22050 else 0.5


def quality_score(e: QualityEvidence, verdict: TranscodeVerdict | None = None) -> float:
    """Quality in [0, 1]: F · S · U · B · C, clamped.

    F (format): 1.0 lossless; lossy 0.35 + 0.35·min(1, kbps·efficiency/320). A suspected
    transcode moves F toward what its source is worth: F − confidence·(F − T), with
    T = min(F, 0.8·F_source), F_source = lossy F of the likely source (0.5·F if unknown).
    So a FLAC made from a 128 kbps MP3 (confidence 0.9) scores 0.42, *below* that MP3's
    0.49: the same audio under a misleading label at 5× the size.
    S (sample rate): 1.0 for 44.1–192 kHz, 0.95 above, 0.9 for 32 kHz, 0.7 to 22.05, else 0.5.
    U: 0.85 if upsampled. B: 0.9 if the bit depth is fake (16-bit audio in a 24-bit file).
    C (clipping): 1 − min(0.4, 20·clipping_ratio): 2 % of samples in clipped runs costs 40 %.
    """
    verdict = verdict or transcode_verdict(e)
    fmt = 1.0 if e.lossless else lossy_format_score(e.codec, e.bitrate_kbps)
    if verdict.suspect:
        source = (lossy_format_score("mp3", verdict.likely_source_kbps)
                  if verdict.likely_source_kbps else 0.5 * fmt)
        target = min(fmt, 0.8 * source)
        fmt -= verdict.confidence * (fmt - target)
    score = fmt * sample_rate_factor(e.sample_rate)
    if e.upsampled_from_hz:
        score *= 0.85
    if is_fake_bit_depth(e):
        score *= 0.9
    score *= 1 - min(0.4, 20 * max(0.0, e.clipping_ratio))
    return round(min(1.0, max(0.0, score)), 4)


def is_fake_bit_depth(e: QualityEvidence) -> bool:
    return bool(e.bit_depth and e.effective_bit_depth and e.effective_bit_depth < e.bit_depth
                and e.bit_depth > 16)


def is_clipped(e: QualityEvidence) -> bool:
    """More than 1 in 10,000 samples in clipped runs: audible, not a stray full-scale peak."""
    return e.clipping_ratio > 1e-4


def assess(e: QualityEvidence) -> QualityAssessment:
    verdict = transcode_verdict(e)
    return QualityAssessment(
        score=quality_score(e, verdict),
        transcode=verdict,
        upsampled_from_hz=e.upsampled_from_hz,
        fake_bit_depth=is_fake_bit_depth(e),
        clipped=is_clipped(e),
    )

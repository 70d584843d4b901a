"""Turn the audio adapter's FileAnalysis into the plain facts a LibraryFile event carries."""

from __future__ import annotations

from typing import Any

from slskdn.audio.analysis import FileAnalysis


def variant_facts(analysis: FileAnalysis) -> dict[str, Any]:
    """The ``variant`` of an Analysed event (keys: domain.library_file.VARIANT_FIELDS)."""
    probe, tags, spectral = analysis.probe, analysis.tags, analysis.spectral
    quality, fingerprint = analysis.quality, analysis.fingerprint
    facts: dict[str, Any] = {"problems": list(analysis.problems)}
    if probe is not None:
        facts.update(
            codec=probe.codec,
            container=probe.container,
            lossless=probe.lossless,
            bitrate_bps=probe.bitrate_bps,
            sample_rate=probe.sample_rate,
            bit_depth=probe.bit_depth,
            channels=probe.channels,
            duration_ms=probe.duration_ms,
            encoder=probe.encoder,
        )
    if tags is not None:
        facts.update(
            recording_id=tags.recording_id,
            release_id=tags.release_id,
            release_group_id=tags.release_group_id,
            artist_id=tags.artist_ids[0] if tags.artist_ids else None,
            release_track_id=tags.release_track_id,
            label=tags.label,
            artist=tags.albumartist or tags.artist,
            album=tags.album,
            title=tags.title,
            track_number=tags.track_number,
            track_total=tags.track_total,
            disc_number=tags.disc_number,
            disc_total=tags.disc_total,
        )
    if spectral is not None:
        facts.update(
            cutoff_hz=spectral.cutoff_hz,
            cutoff_kind=spectral.cutoff_kind,
            upsampled_from_hz=spectral.upsampled_from_hz,
            effective_bit_depth=spectral.effective_bit_depth,
            clipping_ratio=spectral.clipping_ratio,
            dynamic_range_db=spectral.dynamic_range_db,
        )
    if quality is not None:
        facts.update(
            transcode_suspect=quality.transcode.suspect,
            transcode_reason=quality.transcode.reason,
            quality_score=quality.score,
        )
    if fingerprint is not None:
        facts.update(
            fingerprint=fingerprint.fingerprint,
            fingerprint_duration_s=fingerprint.duration_s,
        )
    return facts

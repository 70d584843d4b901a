"""Analyse one audio file end to end: probe, tags, spectrum, fingerprint, verdict.

`analyse_file` never writes to the file (everything is opened read-only) and never raises
for a bad file: the reason goes into `FileAnalysis.error` (nothing trustworthy could be
measured) or `FileAnalysis.problems` (measured, but the file has a defect, e.g. junk after
the last MP3 frame). Each problem starts with a stable code: "trailing_data: ...".
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import mutagen
import numpy as np
import soundfile as sf

from slskdn.audio.fingerprint import MAX_SECONDS, Fingerprint, fingerprint_pcm
from slskdn.audio.probe import AudioProbe, probe_from
from slskdn.audio.spectral import SpectralReport, analyse_segments
from slskdn.audio.tags import TrackTags, tags_from
from slskdn.audio.walk import WalkItem, iter_audio_files
from slskdn.domain.quality import QualityAssessment, QualityEvidence, assess

__all__ = ["FileAnalysis", "WalkItem", "analyse_file", "analyse_many", "iter_audio_files"]

SEGMENT_SECONDS = 3.0  # one DR-meter block
_DECODABLE = {"flac", "mp3", "vorbis", "opus", "pcm"}  # by libsndfile 1.2
_MAGIC = (b"fLaC", b"ID3", b"OggS", b"RIFF", b"FORM", b"MAC ", b"wvpk", b"TTA1", b"\xff")


@dataclass(frozen=True)
class FileAnalysis:
    path: str
    error: str | None = None
    problems: tuple[str, ...] = ()
    file_size_bytes: int | None = None
    mtime_ns: int | None = None
    probe: AudioProbe | None = None
    tags: TrackTags | None = None
    spectral: SpectralReport | None = None
    fingerprint: Fingerprint | None = None
    quality: QualityAssessment | None = None


class _Unusable(Exception):
    """The file cannot be analysed; the message is the reason shown to the user."""


def analyse_file(path: str | Path, *, sample_segments: int = 6,
                 fingerprint: bool = True) -> FileAnalysis:
    """Analyse `path`, decoding at most `sample_segments` × 3 s spread over the file (plus
    the first 120 s when fingerprinting). See module docstring for the error contract."""
    name = str(path)
    try:
        st = _check_file(Path(path))
    except _Unusable as exc:
        return FileAnalysis(name, error=str(exc))
    base = FileAnalysis(name, file_size_bytes=st.st_size, mtime_ns=st.st_mtime_ns)
    try:
        audio = mutagen.File(name)
    except Exception as exc:  # mutagen raises many unrelated types for junk; all mean the same
        return _with(base, error=f"corrupt or unrecognised header: {_say(exc)}")
    if audio is None:
        return _with(base, error=f"not a recognised audio format ({_head_hex(name)})")
    try:
        probe, tags = probe_from(audio, Path(name)), tags_from(audio)
    except Exception as exc:
        return _with(base, error=f"unreadable stream info: {_say(exc)}")
    problems = []
    if probe.trailing_bytes:
        problems.append(f"trailing_data: {probe.trailing_bytes} bytes of non-audio data after "
                        "the last MPEG frame (the audio decodes; the file was damaged or "
                        "concatenated)")
    problems.extend(f"malformed_mbid: {m}" for m in tags.malformed_mbids)
    spectral = fp = None
    if probe.codec in _DECODABLE:
        try:
            spectral, fp = _decode_and_measure(name, sample_segments, fingerprint)
        except _Unusable as exc:
            return _with(base, probe=probe, tags=tags, problems=tuple(problems), error=str(exc))
        if fingerprint and fp is None:
            problems.append("no_fingerprint: Chromaprint found nothing to hash (under ~3 s of "
                            "audio, or silence)")
    else:
        problems.append(f"not_decoded: libsndfile cannot decode {probe.container}/"
                        f"{probe.codec}; no spectrum or fingerprint")
    return _with(base, probe=probe, tags=tags, spectral=spectral, fingerprint=fp,
                 problems=tuple(problems), quality=assess(evidence(probe, spectral)))


def evidence(probe: AudioProbe, spectral: SpectralReport | None) -> QualityEvidence:
    """The plain facts the domain's quality policy needs."""
    return QualityEvidence(
        codec=probe.codec,
        container=probe.container,
        lossless=probe.lossless,
        sample_rate=probe.sample_rate,
        bitrate_kbps=None if probe.lossless or not probe.bitrate_bps
        else probe.bitrate_bps / 1000,
        bit_depth=probe.bit_depth,
        cutoff_hz=spectral.cutoff_hz if spectral else None,
        cutoff_kind=spectral.cutoff_kind if spectral else None,
        upsampled_from_hz=spectral.upsampled_from_hz if spectral else None,
        effective_bit_depth=spectral.effective_bit_depth if spectral else None,
        clipping_ratio=spectral.clipping_ratio if spectral else 0.0,
        encoder=probe.encoder,
        encoder_lowpass_hz=probe.encoder_lowpass_hz,
    )


def analyse_many(paths: Iterable[str | Path], workers: int = 1, *, sample_segments: int = 6,
                 fingerprint: bool = True) -> list[FileAnalysis]:
    """`analyse_file` over many paths, results in input order. `workers` > 1 runs a process
    pool: the work is CPU-bound codec and numpy code that threads would serialise."""
    run = partial(analyse_file, sample_segments=sample_segments, fingerprint=fingerprint)
    names = [str(p) for p in paths]
    if workers <= 1:
        return [run(p) for p in names]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, names, chunksize=max(1, len(names) // (workers * 8))))


def _with(base: FileAnalysis, **changes: object) -> FileAnalysis:
    return FileAnalysis(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def _say(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _head_hex(path: str) -> str:
    with open(path, "rb") as f:
        return "starts with " + f.read(8).hex(" ")


def _check_file(path: Path) -> os.stat_result:
    """stat + readability + a sniff for text, with the reason in words."""
    try:
        path.lstat()
    except FileNotFoundError:
        raise _Unusable("file not found") from None
    except OSError as exc:
        raise _Unusable(f"cannot stat: {exc.strerror or exc}") from None
    try:
        st = path.stat()
    except OSError:
        if path.is_symlink():
            raise _Unusable(f"dangling symlink: target {os.readlink(path)!r} does not exist"
                            ) from None
        raise
    if not path.is_file():
        raise _Unusable("not a regular file")
    if st.st_size == 0:
        raise _Unusable("empty file (0 bytes)")
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except PermissionError:
        raise _Unusable("permission denied: the file cannot be read") from None
    except OSError as exc:
        raise _Unusable(f"cannot read: {exc.strerror or exc}") from None
    if not head.startswith(_MAGIC) and head[4:8] != b"ftyp" and _looks_like_text(head):
        raise _Unusable(f"not audio: the file holds text ({st.st_size} bytes) despite its "
                        f"{path.suffix or 'missing'} extension")
    return st


def _looks_like_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def _decode_and_measure(path: str, n_segments: int, want_fingerprint: bool
                        ) -> tuple[SpectralReport, Fingerprint | None]:
    try:
        with sf.SoundFile(path) as f:
            return _measure(f, n_segments, want_fingerprint)
    except sf.LibsndfileError as exc:
        raise _Unusable(f"decode failed (truncated or corrupt stream?): {exc}") from None
    except (RuntimeError, ValueError) as exc:
        raise _Unusable(f"decode failed: {_say(exc)}") from None


def _read(f: sf.SoundFile, start: int, frames: int, dtype: str = "float32") -> np.ndarray:
    f.seek(start)
    block = f.read(frames, dtype=dtype, always_2d=True)
    if len(block) < frames:
        raise _Unusable(
            f"truncated: audio stops at {(start + len(block)) / f.samplerate:.1f} s but the "
            f"header says {f.frames / f.samplerate:.1f} s")
    return block


def _measure(f: sf.SoundFile, n_segments: int, want_fingerprint: bool
             ) -> tuple[SpectralReport, Fingerprint | None]:
    rate, frames = f.samplerate, f.frames
    if frames <= 0:
        raise _Unusable("no audio frames")
    seg = int(SEGMENT_SECONDS * rate)
    head_frames = min(frames, MAX_SECONDS * rate) if want_fingerprint else 0
    deep = f.subtype in ("PCM_24", "PCM_32")  # check for 16-bit audio in a deeper container
    int_samples: np.ndarray | None = None
    head: np.ndarray | None
    if frames <= max(n_segments * seg, head_frames):
        # Short file: one decode of everything (int32 when deep, then scaled to float).
        whole = _read(f, 0, frames, "int32" if deep else "float32")
        if deep:
            int_samples, whole = whole, whole.astype(np.float32) * np.float32(2.0**-31)
        starts = list(range(0, max(1, frames - seg // 3), seg))  # drop a tail under 1 s
        segments = [whole[s : s + seg] for s in starts]
        head = whole[:head_frames]
    else:
        head = _read(f, 0, head_frames) if head_frames else None
        step = (frames - seg) / max(1, n_segments - 1)
        segments = []
        for i in range(n_segments):
            start = round(i * step)
            if head is not None and start + seg <= len(head):
                segments.append(head[start : start + seg])
            else:
                segments.append(_read(f, start, seg))
        if deep:
            int_samples = _read(f, round(step * (n_segments // 2)), seg, "int32")
    report = analyse_segments(segments, rate, int_samples=int_samples)
    fp = None
    if head is not None and len(head):
        text = fingerprint_pcm(head, rate)
        fp = Fingerprint(text, round(frames / rate, 3)) if text else None
    return report, fp

"""Stream facts of an audio file (codec, rate, depth, bitrate, encoder) as plain data.

Sources: mutagen's stream info (all containers), libsndfile's info (frames and PCM subtype of
what it can decode), and for MP3 our own reading of the Xing/LAME header, which mutagen parses
but does not expose: its "lowpass" byte and its stream byte count, which tells where the audio
ends and so whether junk follows it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

LOSSLESS_CODECS = frozenset({"flac", "alac", "pcm", "ape", "wavpack", "tta", "ofr"})
_CONTAINERS = {  # mutagen class name -> (container, codec)
    "FLAC": ("FLAC", "flac"), "MP3": ("MP3", "mp3"), "OggVorbis": ("Ogg", "vorbis"),
    "OggOpus": ("Ogg", "opus"), "OggFLAC": ("Ogg", "flac"), "MP4": ("M4A", "aac"),
    "WAVE": ("WAV", "pcm"), "AIFF": ("AIFF", "pcm"), "MonkeysAudio": ("APE", "ape"),
    "WavPack": ("WavPack", "wavpack"), "TrueAudio": ("TTA", "tta"),
    "OptimFROG": ("OFR", "ofr"), "ASF": ("WMA", "wma"), "Musepack": ("MPC", "musepack"),
}


@dataclass(frozen=True)
class AudioProbe:
    container: str  # "FLAC", "MP3", "Ogg", "M4A", "WAV", ...
    codec: str  # "flac", "mp3", "vorbis", "opus", "aac", "alac", "pcm", ...
    lossless: bool
    sample_rate: int
    channels: int
    duration_ms: int
    file_size_bytes: int
    bitrate_bps: int | None  # header/average bitrate; file size / duration if unknown
    bit_depth: int | None  # lossless only
    bitrate_mode: str | None = None  # "cbr" | "vbr" | "abr" (MP3)
    encoder: str | None = None  # "LAME 3.100.0+", "libopus 1.4", "reference libFLAC 1.4.2"
    encoder_settings: str | None = None  # "-b 320", "-V 0"
    encoder_lowpass_hz: int | None = None  # from the LAME header
    trailing_bytes: int = 0  # MP3: bytes after the last frame that are not a known tag


def probe_file(path: str | Path) -> AudioProbe:
    """Probe one file (raises mutagen's errors and ValueError; analysis.py catches them)."""
    return probe_from(mutagen.File(path), Path(path))


def probe_from(audio: Any, path: Path) -> AudioProbe:
    if audio is None:
        raise ValueError("mutagen does not recognise this file as audio")
    info = audio.info
    container, codec = _CONTAINERS.get(type(audio).__name__, (type(audio).__name__, "unknown"))
    if isinstance(audio, MP4):
        codec = "alac" if getattr(info, "codec", "") == "alac" else "aac"
    elif isinstance(audio, MP3) and getattr(info, "layer", 3) != 3:
        codec = f"mp{info.layer}"
    lossless = codec in LOSSLESS_CODECS
    size = os.path.getsize(path)
    seconds = float(getattr(info, "length", 0.0) or 0.0)
    bitrate = int(getattr(info, "bitrate", 0) or 0) or (
        int(size * 8 / seconds) if seconds > 0 else None)
    sample_rate = 48000 if isinstance(audio, OggOpus) else int(info.sample_rate)
    depth = getattr(info, "bits_per_sample", None) if lossless else None
    lame: dict[str, int] = {}
    if isinstance(audio, MP3):
        lame = _lame_header(path, info.frame_offset)
    return AudioProbe(
        container=container,
        codec=codec,
        lossless=lossless,
        sample_rate=sample_rate,
        channels=int(info.channels),
        duration_ms=round(seconds * 1000),
        file_size_bytes=size,
        bitrate_bps=bitrate,
        bit_depth=int(depth) if depth else None,
        bitrate_mode=_bitrate_mode(info),
        encoder=_encoder(audio),
        encoder_settings=getattr(info, "encoder_settings", None) or None,
        encoder_lowpass_hz=lame.get("lowpass") or None,
        trailing_bytes=_mp3_trailing_bytes(path, info, lame) if isinstance(audio, MP3) else 0,
    )


def _bitrate_mode(info: Any) -> str | None:
    mode = getattr(info, "bitrate_mode", None)
    name = str(mode).rsplit(".", 1)[-1].lower() if mode is not None else ""  # "BitrateMode.CBR"
    return name if name in ("cbr", "vbr", "abr") else None


def _encoder(audio: Any) -> str | None:
    """An encoder tag if present (it names the tool that made the file), else the vendor."""
    tags = audio.tags
    if isinstance(audio, MP3):
        tsse = tags.get("TSSE") if tags is not None else None
        return str(tsse.text[0]) if tsse else (getattr(audio.info, "encoder_info", "") or None)
    if isinstance(audio, MP4):
        too = tags.get("©too") if tags is not None else None
        return str(too[0]) if too else None
    if isinstance(audio, FLAC | OggVorbis | OggOpus) and tags is not None:
        encoder = tags.get("ENCODER") or tags.get("ENCODED-BY")
        return str(encoder[0]) if encoder else (tags.vendor or None)
    return None


def _lame_header(path: Path, frame_offset: int) -> dict[str, int]:
    """Xing/Info header fields of the first frame: "bytes" and LAME's "lowpass" (Hz)."""
    with open(path, "rb") as f:
        f.seek(frame_offset)
        frame = f.read(400)
    pos = max(frame.find(b"Xing", 0, 64), frame.find(b"Info", 0, 64))
    if pos < 0:
        return {}
    (flags,) = struct.unpack(">I", frame[pos + 4 : pos + 8])
    out, cursor = {}, pos + 8
    if flags & 1:
        cursor += 4  # frame count
    if flags & 2:
        (out["bytes"],) = struct.unpack(">I", frame[cursor : cursor + 4])
        cursor += 4
    cursor += 100 if flags & 4 else 0  # seek table
    cursor += 4 if flags & 8 else 0  # quality
    if frame[cursor : cursor + 4] == b"LAME" and len(frame) > cursor + 10:
        out["lowpass"] = frame[cursor + 10] * 100  # after 9-byte version + revision byte
    return out


_BITRATES_V1_L3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2_L3 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame_length(header: bytes) -> int:
    """Length of a Layer III frame from its 4-byte header, 0 if it is not a valid one."""
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return 0
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer != 1 or index in (0, 15) or rate_index == 3:
        return 0
    kbps = (_BITRATES_V1_L3 if version == 3 else _BITRATES_V2_L3)[index]
    rate = _RATES[version][rate_index]
    return (144 if version == 3 else 72) * kbps * 1000 // rate + padding


def _mp3_trailing_bytes(path: Path, info: Any, lame: dict[str, int]) -> int:
    """Bytes after the audio that are neither an ID3v1, APEv2, Lyrics3 nor ID3 tag."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if "bytes" in lame:
            end = info.frame_offset + lame["bytes"]
        else:  # no Xing header: walk the frame chain (cheap: one seek per frame)
            end = info.frame_offset
            while True:
                f.seek(end)
                length = _frame_length(f.read(4))
                if length == 0 or end + length > size:
                    break
                end += length
        f.seek(min(end, size))
        rest = f.read()
    for marker in (b"ID3", b"APETAGEX", b"LYRICSBEGIN"):
        if rest.startswith(marker):
            return 0
    if rest[-128:].startswith(b"TAG"):  # ID3v1 at the very end
        rest = rest[:-128]
    return len(rest)

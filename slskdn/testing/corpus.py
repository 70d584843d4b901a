"""Generate an audio test corpus with real codecs, plus the ground truth for every file.

Everything is made here, from synthetic signals, by libsndfile's real encoders (LAME for MP3,
libvorbis, libopus, libFLAC, Apple's ALAC) and tagged with mutagen the way Picard tags.
Each file comes with an `Expected` record: what an analyser should find in it.

Used by `tests/audio` and by `benchmarks/library.py`; `scale` multiplies the signal files
(each copy has its own seed) for benchmarks, `seconds` sets the clip length.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from slskdn.testing import signals
from slskdn.testing.mp4 import write_m4a_alac
from slskdn.testing.tagging import PICARD_TAGS, tag_file

# Ground truth: where libsndfile's LAME 3.100 (CBR, 44.1 kHz) and libvorbis 1.3.7 put their
# lowpass. Measured independently of slskdn's analyser: white noise through the encoder,
# 16384-point FFT, highest frequency within 10 dB of the 5-10 kHz level.
LAME_CUTOFF_HZ = {96: 15160, 112: 15180, 128: 16590, 160: 17310, 192: 18690,
                  224: 19390, 256: 19390, 320: 20080}
VORBIS_CUTOFF_HZ = {0: 15170, 1: 15860, 2: 16550, 3: 17240, 4: 18970, 5: 20340}  # q6+: none


@dataclass(frozen=True)
class Expected:
    """What a correct analyser reports for one corpus file."""

    kind: str
    is_transcode: bool = False
    source: str | None = None  # e.g. "mp3@128", "vorbis@q2"
    cutoff_hz: float | None = None  # codec lowpass the spectrum must show
    upsampled_from: int | None = None
    fake_bit_depth: bool = False
    clipped: bool = False
    error: bool = False  # analysis must fail with a reason
    problem: str | None = None  # analysis succeeds but must report this problem
    tagged: bool = False  # tags as in slskdn.testing.tagging.PICARD_TAGS
    malformed_mbid: bool = False


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    expected: Expected
    seed: int = 0


def mp3_compression_level(kbps: int) -> float:
    """libsndfile maps compression_level c to CBR 320 - 288·c kbps (c=1.0 fails)."""
    return (320 - kbps) / 288


def vorbis_compression_level(quality: int) -> float:
    """libsndfile maps compression_level c to Vorbis quality 10·(1 - c)."""
    return 1 - quality / 10


def encode_mp3(audio: np.ndarray, sample_rate: int, kbps: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sample_rate, format="MP3", subtype="MPEG_LAYER_III",
             bitrate_mode="CONSTANT", compression_level=mp3_compression_level(kbps))
    return buf.getvalue()


def encode_vorbis(audio: np.ndarray, sample_rate: int, quality: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sample_rate, format="OGG", subtype="VORBIS",
             compression_level=vorbis_compression_level(quality))
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    audio, _ = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return audio


class CorpusBuilder:
    """Writes files into `root` and collects their ground truth."""

    def __init__(self, root: Path, seconds: float) -> None:
        self.root = Path(root)
        self.seconds = seconds
        self.files: list[CorpusFile] = []
        self.root.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, expected: Expected, seed: int = 0) -> Path:
        path = self.root / name
        self.files.append(CorpusFile(path, expected, seed))
        return path

    def flac(self, name: str, audio: np.ndarray, rate: int, expected: Expected, seed: int,
             subtype: str = "PCM_16") -> Path:
        path = self.add(name, expected, seed)
        sf.write(path, audio, rate, format="FLAC", subtype=subtype)
        return path

    def signal_files(self, seed: int) -> None:
        """Genuine, transcoded, upsampled, fake-depth and clipped files for one seed."""
        sr, s = 44100, seed
        x = signals.music(self.seconds, sample_rate=sr, seed=seed)
        self.flac(f"genuine_{s}.flac", x, sr, Expected("genuine"), s)
        soft = signals.music(self.seconds, seed=seed, rolloff_hz=9000, rolloff_order=1)
        self.flac(f"genuine_soft_{s}.flac", soft, sr, Expected("genuine"), s)
        # A steep anti-alias filter at 96.6 % of Nyquist is not a transcode.
        aa = signals.brickwall(x, sr, 21300)
        self.flac(f"genuine_antialias_{s}.flac", aa * 0.99 / np.abs(aa).max(), sr,
                  Expected("genuine"), s)
        for kbps, cutoff in LAME_CUTOFF_HZ.items():
            if kbps in (96, 112, 224):  # same walls as neighbours; keep the corpus small
                continue
            src = f"mp3@{kbps}"
            mp3 = encode_mp3(x, sr, kbps)
            self.flac(f"mp3_{kbps}_to_flac_{s}.flac", decode(mp3), sr,
                      Expected("transcode", True, src, cutoff), s)
            if kbps in (128, 320):
                self.add(f"mp3_{kbps}_{s}.mp3", Expected("lossy", False, src, cutoff),
                         s).write_bytes(mp3)
        for q, cutoff in VORBIS_CUTOFF_HZ.items():
            ogg = encode_vorbis(x, sr, q)
            self.flac(f"vorbis_q{q}_to_flac_{s}.flac", decode(ogg), sr,
                      Expected("transcode", True, f"vorbis@q{q}", cutoff), s)
        q6 = decode(encode_vorbis(x, sr, 6))  # no lowpass: undetectable, recorded as such
        self.flac(f"vorbis_q6_to_flac_{s}.flac", q6, sr,
                  Expected("undetectable_transcode", True, "vorbis@q6"), s)
        fake = encode_mp3(decode(encode_mp3(x, sr, 128)), sr, 320)
        self.add(f"fake320_from_128_{s}.mp3",
                 Expected("fake_bitrate", True, "mp3@128", LAME_CUTOFF_HZ[128]), s
                 ).write_bytes(fake)
        rng = np.random.default_rng(seed + 1000)
        up = signals.resample_fft(x, sr, 96000)
        self.flac(f"upsampled_96k_{s}.flac", signals.quantize(up, 24, rng) / 2**23, 96000,
                  Expected("upsampled", upsampled_from=44100, cutoff_hz=22050), s, "PCM_24")
        hires = signals.music(self.seconds, sample_rate=96000, seed=seed, rolloff_hz=40000)
        self.flac(f"genuine_96k_{s}.flac", signals.quantize(hires, 24, rng) / 2**23, 96000,
                  Expected("genuine"), s, "PCM_24")
        # 16-bit samples stored in a 24-bit FLAC: the low 8 bits are zero.
        pcm16 = signals.quantize(x, 16)
        p = self.add(f"fake24_{s}.flac", Expected("fake_bit_depth", fake_bit_depth=True), s)
        sf.write(p, (pcm16 << 16).astype(np.int32), sr, format="FLAC", subtype="PCM_24")
        # Same, but with a gain applied after the 16-bit stage: low bits no longer zero.
        gained = np.round(pcm16 * 0.8 * 256).astype(np.int64)
        p = self.add(f"fake24_gain_{s}.flac", Expected("fake_bit_depth", fake_bit_depth=True), s)
        sf.write(p, (gained << 8).astype(np.int32), sr, format="FLAC", subtype="PCM_24")
        real24 = signals.quantize(x, 24, rng)
        p = self.add(f"genuine24_{s}.flac", Expected("genuine"), s)
        sf.write(p, (real24 << 8).astype(np.int32), sr, format="FLAC", subtype="PCM_24")
        self.flac(f"clipped_{s}.flac", np.clip(x * 2.5, -1, 1), sr,
                  Expected("clipped", clipped=True), s)

    def tagged_files(self) -> None:
        """One tagged file per container (ground truth in `PICARD_TAGS`)."""
        sr = 44100
        x = signals.music(min(self.seconds, 4.0), sample_rate=sr, seed=99)
        tagged = Expected("tagged", tagged=True)
        paths = [self.flac("tagged.flac", x, sr, tagged, 99)]
        mp3 = encode_mp3(x, sr, 192)
        for version in (3, 4):
            p = self.add(f"tagged_id3v2{version}.mp3", tagged, 99)
            p.write_bytes(mp3)
            paths.append(p)
        p = self.add("tagged.ogg", tagged, 99)
        p.write_bytes(encode_vorbis(x, sr, 5))
        paths.append(p)
        p = self.add("tagged.opus", tagged, 99)
        sf.write(p, x, 48000, format="OGG", subtype="OPUS")
        paths.append(p)
        p = self.add("tagged.m4a", tagged, 99)
        write_m4a_alac(p, x, sr)
        paths.append(p)
        for p in paths:
            tag_file(p, PICARD_TAGS, id3_version=3 if "v23" in p.name else 4)
        bad = self.add("tagged_bad_mbid.flac",
                       Expected("tagged", tagged=True, malformed_mbid=True), 99)
        sf.write(bad, x, sr, format="FLAC", subtype="PCM_16")
        tag_file(bad, {**PICARD_TAGS, "release_group_id": ["not-a-uuid"]})

    def bad_files(self) -> None:
        """Files an analyser must survive, each with the reason it must give."""
        sr = 44100
        x = signals.music(2.0, sample_rate=sr, seed=7)
        self.add("bad_zero.flac", Expected("bad", error=True)).write_bytes(b"")
        buf = io.BytesIO()
        sf.write(buf, x, sr, format="FLAC", subtype="PCM_16")
        flac = buf.getvalue()
        self.add("bad_truncated.flac", Expected("bad", error=True)).write_bytes(
            flac[: len(flac) // 2])
        # Magic and STREAMINFO overwritten: the header no longer describes any stream.
        junk = np.random.default_rng(7).integers(0, 256, 42, dtype=np.uint8).tobytes()
        self.add("bad_header.flac", Expected("bad", error=True)).write_bytes(junk + flac[42:])
        self.add("bad_text.mp3", Expected("bad", error=True)).write_bytes(
            b"This is a text file, not an MP3.\n" * 200)
        # Trailing junk after valid frames: the audio decodes; the problem must be reported.
        garbage = np.random.default_rng(8).integers(0, 256, 20000, dtype=np.uint8).tobytes()
        self.add("bad_garbage_appended.mp3",
                 Expected("bad", problem="trailing_data")).write_bytes(
            encode_mp3(x, sr, 128) + garbage)
        link = self.add("bad_dangling.flac", Expected("bad", error=True))
        os.symlink(self.root / "does-not-exist.flac", link)


def build_corpus(root: Path, *, seconds: float = 4.0, scale: int = 1,
                 include_tagged: bool = True, include_bad: bool = True) -> list[CorpusFile]:
    """Write the corpus into `root` and return every file with its ground truth."""
    builder = CorpusBuilder(Path(root), seconds)
    for seed in range(scale):
        builder.signal_files(seed)
    if include_tagged:
        builder.tagged_files()
    if include_bad:
        builder.bad_files()
    return builder.files

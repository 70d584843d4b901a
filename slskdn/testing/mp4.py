"""Write a real M4A (ALAC in MP4) without an MP4 muxer.

libsndfile cannot write MP4, and mutagen only edits existing MP4 files. libsndfile *can*
encode ALAC into a CAF file, and CAF and MP4 carry ALAC the same way (packets plus a 24-byte
ALACSpecificConfig "magic cookie"), so this module remuxes the CAF packets into a minimal
ISO-BMFF file: ftyp, moov (one sound track, a single chunk) and mdat. The result is a valid
M4A that mutagen (and ffmpeg/iTunes) read and that mutagen can then tag like Picard does.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, *parts: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def _read_caf(data: bytes) -> tuple[dict[str, float], bytes, list[int], int, bytes]:
    """Return (desc, cookie, packet sizes, valid frames, packet bytes) from a CAF file."""
    if data[:4] != b"caff":
        raise ValueError("not a CAF file")
    pos, chunks = 8, {}
    while pos + 12 <= len(data):
        kind, size = struct.unpack(">4sq", data[pos : pos + 12])
        chunks[kind] = data[pos + 12 : pos + 12 + size]
        pos += 12 + size
    rate, fmt, _flags, _bpp, fpp, channels, bits = struct.unpack(">d4s5I", chunks[b"desc"])
    if fmt != b"alac":
        raise ValueError(f"CAF holds {fmt!r}, not ALAC")
    n_packets, valid_frames, _priming, _remainder = struct.unpack(">qqii", chunks[b"pakt"][:24])
    sizes, value, table = [], 0, chunks[b"pakt"][24:]
    for byte in table:  # CAF packet table: big-endian base-128 varints
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            sizes.append(value)
            value = 0
    if len(sizes) < n_packets:  # libsndfile may pad the table with zero bytes
        raise ValueError("CAF packet table is shorter than its packet count")
    sizes = sizes[:n_packets]
    desc = {"rate": rate, "fpp": fpp, "channels": channels, "bits": bits}
    return desc, chunks[b"kuki"][-24:], sizes, valid_frames, chunks[b"data"][4:]


def write_m4a_alac(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Encode `audio` (float, frames×channels) as 16-bit ALAC and write it as an M4A file."""
    caf = io.BytesIO()
    sf.write(caf, audio, sample_rate, format="CAF", subtype="ALAC_16")
    desc, cookie, sizes, valid, packets = _read_caf(caf.getvalue())
    fpp, channels = int(desc["fpp"]), int(desc["channels"])
    last = valid - fpp * (len(sizes) - 1)
    stts = [(len(sizes) - 1, fpp), (1, last)] if len(sizes) > 1 else [(1, last)]

    sample_entry = _box(
        b"alac",
        bytes(6),
        struct.pack(">HHHI", 1, 0, 0, 0),
        struct.pack(">HHHHI", channels, 16, 0, 0, sample_rate << 16),
        _full(b"alac", cookie),
    )

    def stbl(mdat_offset: int) -> bytes:
        return _box(
            b"stbl",
            _full(b"stsd", struct.pack(">I", 1), sample_entry),
            _full(b"stts", struct.pack(">I", len(stts)), *(struct.pack(">II", *e) for e in stts)),
            _full(b"stsc", struct.pack(">IIII", 1, 1, len(sizes), 1)),
            _full(b"stsz", struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes)),
            _full(b"stco", struct.pack(">II", 1, mdat_offset)),
        )

    def moov(mdat_offset: int) -> bytes:
        minf = _box(
            b"minf",
            _full(b"smhd", struct.pack(">HH", 0, 0)),
            _box(b"dinf", _full(b"dref", struct.pack(">I", 1), _full(b"url ", flags=1))),
            stbl(mdat_offset),
        )
        mdia = _box(
            b"mdia",
            _full(b"mdhd", struct.pack(">IIIIHH", 0, 0, sample_rate, valid, 0x55C4, 0)),
            _full(b"hdlr", struct.pack(">I4s12x", 0, b"soun"), b"SoundHandler\0"),
            minf,
        )
        tkhd = _full(
            b"tkhd",
            struct.pack(">IIIII8xHHHH", 0, 0, 1, 0, valid, 0, 0, 0x100, 0),
            _MATRIX,
            struct.pack(">II", 0, 0),
            flags=7,
        )
        mvhd = _full(
            b"mvhd",
            struct.pack(">IIIIIH10x", 0, 0, sample_rate, valid, 0x10000, 0x100),
            _MATRIX,
            bytes(24),
            struct.pack(">I", 2),
        )
        return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))

    ftyp = _box(b"ftyp", b"M4A ", struct.pack(">I", 0), b"M4A mp42isom")
    head_len = len(ftyp) + len(moov(0))  # moov's size does not depend on the offset value
    Path(path).write_bytes(ftyp + moov(head_len + 8) + _box(b"mdat", packets))

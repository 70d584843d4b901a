"""The FLAC STREAMINFO check: does the decoded audio match the MD5 the encoder stored?

A FLAC file carries the MD5 of its decoded samples (signed, little-endian, interleaved,
each sample in the fewest whole bytes its bit depth needs). A downloaded copy that decodes
to other samples was damaged or tampered with, whatever its SHA-256 — which, on Soulseek,
nobody can tell us in advance. This is the swarm's whole-file check for FLAC.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import mutagen.flac
import numpy as np
import soundfile as sf

BLOCK_FRAMES = 1 << 16


def stored_md5(path: str | Path) -> str | None:
    """The STREAMINFO MD5 as hex, or None when the encoder left it unset (all zeros)."""
    signature = mutagen.flac.FLAC(path).info.md5_signature
    return None if signature == 0 else f"{signature:032x}"


def decoded_md5(path: str | Path) -> str:
    """MD5 of the decoded samples, laid out as FLAC's encoder hashed them."""
    md5 = hashlib.md5()
    with sf.SoundFile(str(path)) as f:
        bits = {"PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(f.subtype)
        if bits is None:
            raise ValueError(f"unsupported FLAC sample format {f.subtype}")
        width = (bits + 7) // 8
        for block in f.blocks(BLOCK_FRAMES, dtype="int32", always_2d=True):
            # libsndfile scales every depth to 32 bits: shift back to the stored width.
            samples = (block >> (32 - bits)).astype("<i4")
            raw = samples.reshape(-1).view(np.uint8).reshape(-1, 4)[:, :width]
            md5.update(raw.tobytes())
    return md5.hexdigest()


def audio_md5_matches(path: str | Path) -> bool | None:
    """True / False when the file can be judged; None when it has no stored MD5.

    A file that no longer decodes (a damaged frame libsndfile rejects) does not match.
    """
    try:
        expected = stored_md5(path)
    except (mutagen.MutagenError, OSError):
        return False
    if expected is None:
        return None
    try:
        return decoded_md5(path) == expected
    except (RuntimeError, ValueError, OSError, sf.LibsndfileError):
        return False

"""Stream facts per container."""

from __future__ import annotations

import pytest

from slskdn.audio.probe import probe_file

from .conftest import Analysed

# name -> (container, codec, lossless, sample rate, bit depth, kbps range)
EXPECTED = {
    "genuine_0.flac": ("FLAC", "flac", True, 44100, 16, (300, 1500)),
    "genuine24_0.flac": ("FLAC", "flac", True, 44100, 24, (500, 3000)),
    "genuine_96k_0.flac": ("FLAC", "flac", True, 96000, 24, (1000, 6000)),
    "mp3_128_0.mp3": ("MP3", "mp3", False, 44100, None, (127, 129)),
    "mp3_320_0.mp3": ("MP3", "mp3", False, 44100, None, (319, 321)),
    "tagged.ogg": ("Ogg", "vorbis", False, 44100, None, (100, 300)),
    "tagged.opus": ("Ogg", "opus", False, 48000, None, (50, 300)),
    "tagged.m4a": ("M4A", "alac", True, 44100, 16, (300, 1500)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_probe_reports_stream_facts(corpus: Analysed, name: str) -> None:
    container, codec, lossless, rate, depth, (lo, hi) = EXPECTED[name]
    path = corpus.files[name].path
    probe = probe_file(path)
    assert (probe.container, probe.codec, probe.lossless) == (container, codec, lossless)
    assert probe.sample_rate == rate
    assert probe.bit_depth == depth
    assert probe.channels == 2
    assert probe.file_size_bytes == path.stat().st_size
    assert probe.bitrate_bps is not None and lo <= probe.bitrate_bps / 1000 <= hi
    seconds = 4.0 if name.startswith("tagged") else 6.0
    if name.endswith(".opus"):
        seconds *= 44100 / 48000  # the corpus writes its 44.1 kHz samples at Opus's 48 kHz
    assert abs(probe.duration_ms - seconds * 1000) <= 10


def test_mp3_probe_reads_the_lame_header(corpus: Analysed) -> None:
    probe = probe_file(corpus.files["mp3_320_0.mp3"].path)
    assert probe.encoder is not None and probe.encoder.startswith("LAME")
    assert probe.encoder_settings == "-b 320"
    assert probe.bitrate_mode == "cbr"
    assert probe.encoder_lowpass_hz == 20500  # LAME's nominal lowpass for 320 kbps
    assert probe.trailing_bytes == 0


def test_vendor_strings_name_the_encoder(corpus: Analysed) -> None:
    assert "libFLAC" in (probe_file(corpus.files["genuine_0.flac"].path).encoder or "")
    assert "libopus" in (probe_file(corpus.files["tagged.opus"].path).encoder or "")
    # libsndfile writes an ENCODER comment into Ogg; an encoder tag wins over the vendor.
    assert probe_file(corpus.files["tagged.ogg"].path).encoder == "libsndfile"


def test_junk_after_the_last_mp3_frame_is_counted(corpus: Analysed) -> None:
    probe = probe_file(corpus.files["bad_garbage_appended.mp3"].path)
    assert probe.trailing_bytes == 20000

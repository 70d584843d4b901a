"""Chromaprint fingerprints, and the AcoustID lookup against a loopback server."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from slskdn.audio.fingerprint import (
    AcoustidClient,
    AcoustidConfig,
    Fingerprint,
    fingerprint_file,
    similarity,
)

from .conftest import Analysed


def test_every_decoded_file_of_3_s_or_more_has_a_fingerprint(corpus: Analysed) -> None:
    for name, result in corpus.results.items():
        if result.spectral is not None and result.spectral.analysed_seconds >= 3.0:
            assert result.fingerprint is not None, name
            assert len(result.fingerprint.fingerprint) > 20, name
            assert result.fingerprint.duration_s > 0


def test_too_short_audio_has_no_fingerprint_and_says_so(corpus: Analysed) -> None:
    result = corpus.results["bad_garbage_appended.mp3"]  # 2 s of audio
    assert result.fingerprint is None
    assert any(p.startswith("no_fingerprint:") for p in result.problems)


def test_same_audio_gives_the_same_fingerprint(corpus: Analysed) -> None:
    # genuine_0 (16-bit FLAC) and fake24_0 (the same samples shifted into 24 bits)
    a = corpus.results["genuine_0.flac"].fingerprint
    b = corpus.results["fake24_0.flac"].fingerprint
    assert a is not None and b is not None and a.fingerprint == b.fingerprint
    assert fingerprint_file(corpus.files["genuine_0.flac"].path) == a  # and stable


def test_lossy_copies_are_similar_and_different_music_is_not(corpus: Analysed) -> None:
    def fp(name: str) -> str:
        result = corpus.results[name].fingerprint
        assert result is not None
        return result.fingerprint

    original = fp("genuine_0.flac")
    assert fp("tagged.flac") != original
    assert similarity(original, fp("mp3_128_0.mp3")) > 0.9
    assert similarity(original, fp("vorbis_q0_to_flac_0.flac")) > 0.85
    assert similarity(original, fp("tagged.flac")) < 0.65  # unrelated audio: ~0.5


ACOUSTID_REPLY = {
    "status": "ok",
    "results": [
        {"id": "2a3e5f1c-7d3b-4b55-9f7e-4bd0c1f3b6e7", "score": 0.62, "recordings": []},
        {
            "id": "9ff43b6a-4f16-427c-93c2-92307ca505e0",
            "score": 0.971,
            "recordings": [{
                "id": "6f1a3b1e-8a7d-4c47-9d3e-2f8a0c1b5e01",
                "title": "Pink Noise Blues",
                "duration": 6,
                "artists": [{"id": "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c05",
                             "name": "Test Artist"}],
            }],
        },
    ],
}


@pytest.fixture
def acoustid_server() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    """A loopback AcoustID: answers /v2/lookup; a bad key gets AcoustID's error JSON."""
    seen: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"]))
                                         .decode())
            seen.append(form)
            ok = self.path == "/v2/lookup" and form.get("client") == ["test-key"]
            body = ACOUSTID_REPLY if ok else {
                "status": "error", "error": {"code": 4, "message": "invalid API key"}}
            data = json.dumps(body).encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2/", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_acoustid_lookup_parses_matches_best_first(acoustid_server) -> None:  # type: ignore[no-untyped-def]
    url, seen = acoustid_server
    client = AcoustidClient(AcoustidConfig(enabled=True, api_key="test-key", base_url=url,
                                           min_interval_s=0))
    result = client.lookup(Fingerprint("AQAAfake", 6.4))
    assert result.error is None
    best = result.matches[0]
    assert best.acoustid_id == "9ff43b6a-4f16-427c-93c2-92307ca505e0"  # sorted by score
    assert best.score == pytest.approx(0.971)
    assert best.recordings[0].recording_id == "6f1a3b1e-8a7d-4c47-9d3e-2f8a0c1b5e01"
    assert best.recordings[0].artists == ("Test Artist",)
    assert seen[0]["fingerprint"] == ["AQAAfake"] and seen[0]["duration"] == ["6"]
    assert seen[0]["meta"] == ["recordings"]


def test_acoustid_errors_come_back_as_values(acoustid_server) -> None:  # type: ignore[no-untyped-def]
    url, _ = acoustid_server
    client = AcoustidClient(AcoustidConfig(enabled=True, api_key="wrong", base_url=url,
                                           min_interval_s=0))
    result = client.lookup(Fingerprint("AQAAfake", 6.0))
    assert result.matches == () and result.error == "AcoustID HTTP 400: invalid API key"
    closed = AcoustidClient(AcoustidConfig(enabled=True, base_url="http://127.0.0.1:9/"))
    assert (closed.lookup(Fingerprint("x", 1.0)).error or "").startswith("AcoustID request failed")


def test_acoustid_is_off_by_default(acoustid_server) -> None:  # type: ignore[no-untyped-def]
    url, seen = acoustid_server
    result = AcoustidClient(AcoustidConfig(base_url=url)).lookup(Fingerprint("x", 1.0))
    assert result.error is not None and "disabled" in result.error and seen == []

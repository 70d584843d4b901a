"""SoulseekSession: search, browse, events with strong references, credential hygiene."""

from __future__ import annotations

import gc
import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
from aioslsk.events import SearchResultEvent

from slskdn.soulseek.records import PeerStatusChanged, SearchResult, SessionEvent
from slskdn.soulseek.sandbox import PeerSpec, Sandbox, SandboxFile
from tests.soulseek.conftest import run, wait_until

FLAC = "Sandbox Artist - Album/01 - Opening.flac"
MP3 = "Sandbox Artist - Album/02 - Closing.mp3"
OTHER = "Elsewhere/unrelated.bin"
FILES = [SandboxFile(FLAC, seconds=2.0), SandboxFile(MP3, seconds=3.0),
         SandboxFile(OTHER, size=1000)]


def test_search_collects_results_from_several_peers(tmp_path: Path) -> None:
    peers = [PeerSpec("p1", files=[FLAC, MP3]), PeerSpec("p2", files=[FLAC, OTHER]),
             PeerSpec("p3", files=[MP3]), PeerSpec("p4", files=[OTHER])]

    async def scenario() -> None:
        async with Sandbox(tmp_path, FILES, peers) as sb:
            bob = await sb.client("bob")
            streamed: list[SearchResult] = []
            results = await bob.search("sandbox artist", window_s=1.0,
                                       on_results=streamed.extend)

            found = {(r.username, r.path) for r in results}
            assert found == {("p1", sb.remote_path("p1", FLAC)), ("p1", sb.remote_path("p1", MP3)),
                             ("p2", sb.remote_path("p2", FLAC)), ("p3", sb.remote_path("p3", MP3))}
            assert sorted(streamed, key=str) == sorted(results, key=str)
            flac = next(r for r in results if r.username == "p2")
            assert flac.size == len(sb.content(FLAC)) and flac.free_slot
            assert flac.queue_length == 0
            mp3 = next(r for r in results if r.username == "p3")
            assert mp3.size == len(sb.content(MP3))
            assert mp3.bitrate == 320 and mp3.duration == 3  # from the shared file's tags

    run(scenario())


def test_browse_lists_a_peers_shares(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Sandbox(tmp_path, FILES, [PeerSpec("p1", files=[FLAC, OTHER])]) as sb:
            bob = await sb.client("bob")
            shared = await bob.browse("p1")
            assert {f.path for f in shared} == {sb.remote_path("p1", FLAC),
                                                sb.remote_path("p1", OTHER)}
            assert {f.size for f in shared} == {len(sb.content(FLAC)), 1000}

    run(scenario())


def test_event_listeners_are_held_strongly(tmp_path: Path) -> None:
    """aioslsk's event bus keeps weak references: a lambda would vanish at the next GC."""

    async def scenario() -> None:
        async with Sandbox(tmp_path, FILES, [PeerSpec("p1", files=[FLAC])]) as sb:
            bob = await sb.client("bob")
            raw: list[Any] = []
            plain: list[SessionEvent] = []
            bob.subscribe_raw(SearchResultEvent, lambda event: raw.append(event))
            bob.subscribe(lambda event: plain.append(event))
            gc.collect()
            await bob.search("opening", window_s=0.5)
            assert len(raw) == 1 and raw[0].result.username == "p1"
            assert any(getattr(e, "results", None) for e in plain)

            # A watched peer going offline reaches subscribers as a plain status change.
            await bob.watch("p1")
            await wait_until(lambda: PeerStatusChanged("p1", "online") in plain)
            await sb.kill_peer("p1")
            await wait_until(lambda: PeerStatusChanged("p1", "offline") in plain)

    run(scenario())


def test_the_password_never_reaches_the_logs(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with Sandbox(tmp_path, FILES, [PeerSpec("p1", files=[FLAC])]) as sb:
            await sb.client("bob", password="hunter2-correct-horse")

    # Named loggers too: another test's configure_logging() may have quietened aioslsk.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="aioslsk"), \
            caplog.at_level(logging.DEBUG, logger="slskdn"):
        run(scenario())
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "Login.Request: credentials hidden" in text  # aioslsk did try to log it
    for secret in ("hunter2-correct-horse",
                   hashlib.md5(b"hunter2-correct-horse").hexdigest(),
                   hashlib.md5(b"bobhunter2-correct-horse").hexdigest()):
        assert secret not in text


def test_local_path_for_keeps_downloads_inside_the_download_dir(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Sandbox(tmp_path, FILES, [PeerSpec("p1", files=[FLAC])]) as sb:
            bob = await sb.client("bob")
            root = bob.config.download_dir.resolve()
            for remote in ("@@abcde\\Album\\01.flac", "..\\..\\..\\etc\\passwd",
                           "/etc/shadow", "C:\\Windows\\evil.dll"):
                local = bob.local_path_for(remote).resolve()
                assert local.is_relative_to(root) and local != root
            assert bob.local_path_for("@@abcde\\Album\\01.flac") == \
                bob.config.download_dir.resolve() / "Album" / "01.flac"

    run(scenario())

"""Bad input through the whole stack: real aioslsk peers (and hand-made ones) on loopback, the
swarm through a real Engine. A bad peer's failure reaches the swarm with its reason (recorded
as ``Peer.ErrorObserved``), its range goes to the others and the file is right; with no one
else to ask, the download fails with a reason. Nothing is written outside the download
directory, whatever the remote path says."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from slskdn.engine import Engine
from slskdn.soulseek.misbehaviour import Misbehaviour
from slskdn.soulseek.sandbox import PeerSpec, Sandbox
from tests.soulseek.conftest import MiB
from tests.soulseek.engine_setup import MakeSetup, make_setup_factory, on_disk, stop_all
from tests.soulseek.fake_peers import GIANT_FRAME, MALFORMED_REQUEST, FakePeer, answering

TRACK = "Artist - Album/01 - Track.bin"
SIZE = 2 * MiB
FAKE_PATH = "@@fake\\Artist - Album\\01 - Track.bin"


@pytest.fixture
def make_setup(tmp_path: Path) -> Iterator[MakeSetup]:
    started: list[tuple[Engine, Sandbox | None]] = []
    yield make_setup_factory(tmp_path, started)
    stop_all(started)


def honest() -> list[PeerSpec]:
    return [PeerSpec("honest-1", upload_kbps=1024), PeerSpec("honest-2", upload_kbps=1024)]


def test_a_peer_announcing_another_size_is_dropped_and_the_others_finish(
        make_setup: MakeSetup) -> None:
    setup = make_setup([*honest(), PeerSpec("liar", misbehaviour=Misbehaviour(size_delta=1000))],
                       TRACK, SIZE)
    result = setup.download()

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert result.bytes_by_peer.get("liar", 0) == 0
    assert setup.peer_errors("liar") == [
        f"size_mismatch: peer announced {SIZE + 1000} bytes, expected {SIZE}"]


def test_a_single_peer_announcing_another_size_fails_the_download_with_a_reason(
        make_setup: MakeSetup) -> None:
    setup = make_setup([PeerSpec("liar", misbehaviour=Misbehaviour(size_delta=-1))], TRACK, SIZE)
    result = setup.download()

    assert not result.ok and result.reason
    assert f"liar: size_mismatch: peer announced {SIZE - 1} bytes" in result.reason
    assert result.bytes_by_peer.get("liar", 0) == 0
    assert setup.peer_errors("liar") == [
        f"size_mismatch: peer announced {SIZE - 1} bytes, expected {SIZE}"]
    assert result.dest_path is None


def test_junk_past_the_end_of_the_file_is_never_written(make_setup: MakeSetup) -> None:
    # The only source: it serves every range, the last one included, and then keeps sending.
    setup = make_setup([PeerSpec("gusher", misbehaviour=Misbehaviour(extra_bytes=500_000))],
                       TRACK, SIZE)
    result = setup.download()

    assert result.ok, result.reason
    assert result.dest_path is not None and result.dest_path.stat().st_size == SIZE
    assert on_disk(result) == setup.sandbox.sha256(TRACK)
    assert setup.peer_errors("gusher") == []


@pytest.mark.parametrize(("answer", "reason"), [
    (GIANT_FRAME, f"protocol_error: peer announced a {1 << 30}-byte message (code 40), over "
                  "the 4194304-byte limit"),
    (MALFORMED_REQUEST, "protocol_error: peer sent a malformed message (code 40, 12 bytes)"),
], ids=["giant-frame", "malformed-request"])
def test_a_peer_breaking_the_protocol_is_dropped_and_the_others_finish(
        make_setup: MakeSetup, answer: bytes, reason: str) -> None:
    setup = make_setup(honest(), TRACK, SIZE)
    fake = FakePeer(setup.sandbox.server, "mallory", answering(answer))
    setup.on_loop(fake.__aenter__())
    try:
        result = setup.download([*setup.sources(), ("mallory", FAKE_PATH)])
    finally:
        setup.on_loop(fake.__aexit__(None, None, None))

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert fake.connections >= 1  # it was asked
    (error,) = setup.peer_errors("mallory")
    assert error.startswith(reason)


def test_a_peer_nobody_can_connect_to_is_dropped_and_the_others_finish(
        make_setup: MakeSetup) -> None:
    setup = make_setup(honest(), TRACK, SIZE)
    ghost = FakePeer(setup.sandbox.server, "ghost")  # listening port closed, refuses indirect
    setup.on_loop(ghost.__aenter__())
    try:
        result = setup.download([*setup.sources(), ("ghost", FAKE_PATH)])
        alone = setup.download([("ghost", FAKE_PATH)],
                               dest=setup.client.config.download_dir / "alone.bin")
    finally:
        setup.on_loop(ghost.__aexit__(None, None, None))

    assert result.ok, result.reason
    assert result.sha256 == setup.sandbox.sha256(TRACK) == on_disk(result)
    assert not alone.ok and alone.reason and alone.seconds < 30
    assert not alone.part_path.with_suffix("").exists()
    errors = setup.peer_errors("ghost")
    assert errors == ["unreachable: could not deliver the queue request to ghost"] * 2


def test_hostile_remote_names_land_inside_the_download_directory(
        make_setup: MakeSetup, tmp_path: Path) -> None:
    # A real share whose file name holds backslashes: on the network the path reads
    # "@@alias\Album\..\..\..\C:\evil.bin", and a naive join would leave the download directory.
    hostile = "Album/..\\..\\..\\C:\\evil.bin"
    setup = make_setup([PeerSpec("alice")], hostile, SIZE)
    remote = setup.sandbox.remote_path("alice", hostile)
    assert "..\\..\\..\\C:\\evil.bin" in remote
    downloads = setup.client.config.download_dir.resolve()
    before = _files(tmp_path)

    served = setup.download([("alice", remote)])
    # Absolute and drive-letter paths (no peer shares them: refused, but the part file is
    # placed by the same rule before anyone is asked).
    refused = [setup.download([("alice", path)]) for path in
               ("/etc/cron.d/evil.bin", "C:\\Windows\\System32\\evil.bin", "..\\..\\evil.bin")]

    assert served.ok, served.reason
    assert served.dest_path == downloads / "C_" / "evil.bin"
    assert on_disk(served) == setup.sandbox.sha256(hostile)
    assert all(not r.ok and r.reason for r in refused)
    new = _files(tmp_path) - before
    outside = {p for p in new if not p.is_relative_to(downloads)
               and not p.is_relative_to(tmp_path / "app")}  # the engine's event store
    assert outside == set()
    assert {p.relative_to(downloads).as_posix() for p in new if p.is_relative_to(downloads)} \
        >= {"C_/evil.bin"}
    assert not (tmp_path / "C:").exists() and not (tmp_path / "sandbox" / "C:").exists()


def _files(root: Path) -> set[Path]:
    return {Path(d, f).resolve() for d, _, names in os.walk(root) for f in names}

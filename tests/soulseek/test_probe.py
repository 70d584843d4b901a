"""Candidates probed over real Soulseek transfers (sandbox peers on loopback): copies that
differ are split off and never used as sources, the per-peer budget holds, failures are
recorded with a reason."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from slskdn.actors.loop import LoopThread
from slskdn.config import load_settings
from slskdn.daemon.downloads import DownloadService
from slskdn.daemon.requests import DownloadRequest
from slskdn.domain.candidate_probes import ProbeBudget, probe_ranges
from slskdn.domain.candidates import CandidateGroup, choose_group, group_offers
from slskdn.domain.ids import peer_id
from slskdn.domain.swarm.decisions import Assign, Steal
from slskdn.engine import Engine
from slskdn.history import iter_events
from slskdn.soulseek.client import SoulseekSession
from slskdn.soulseek.lookup import group_for_file
from slskdn.soulseek.misbehaviour import Misbehaviour
from slskdn.soulseek.probe import (
    ProbedCandidates,
    ProbeSettings,
    offers_of,
    probe_candidates,
    record_probe_failures,
)
from slskdn.soulseek.sandbox import STATE_FILE, PeerSpec, Sandbox, SandboxFile
from slskdn.soulseek.swarm_download import download_multi_source
from tests.soulseek.conftest import MiB, run
from tests.soulseek.engine_setup import stop_all
from tests.soulseek.test_sandbox_cli import slskdn

TRACK = "Artist - Album/01 - Track.bin"
SIZE = 2 * MiB
HEAD, MIDDLE = probe_ranges(SIZE)


@dataclass
class Net:
    engine: Engine
    sandbox: Sandbox
    client: SoulseekSession
    # peer -> offsets at which it started an upload (a spy on the real uploader)
    uploads: dict[str, list[int]] = field(default_factory=dict)

    def on_loop(self, coro: Any, timeout: float = 60.0) -> Any:
        assert self.engine.loop is not None
        return self.engine.loop.submit(coro).result(timeout)

    def search(self, query: str = "Track") -> list[CandidateGroup]:
        return group_offers(offers_of(self.on_loop(self.client.search(query, window_s=1.0))))

    def probe(self, groups: list[CandidateGroup], **options: Any) -> ProbedCandidates:
        return self.on_loop(probe_candidates(self.client, groups, **options))


def spy_uploads(sandbox: Sandbox, uploads: dict[str, list[int]]) -> None:
    for name, session in sandbox.peers.items():
        manager = session.transfers
        served = uploads.setdefault(name, [])
        original = manager._upload_file

        async def counting(transfer: Any, connection: Any, original: Any = original,
                           served: list[int] = served) -> None:  # fmt: skip
            served.append(transfer.bytes_transfered)  # the offset the downloader asked for
            await original(transfer, connection)

        manager._upload_file = counting  # type: ignore[method-assign]


@pytest.fixture
def make_net(tmp_path: Path) -> Iterator[Callable[..., Net]]:
    started: list[tuple[Engine, Sandbox | None]] = []

    def make(peers: list[PeerSpec], files: list[SandboxFile] | None = None) -> Net:
        engine = Engine(load_settings(env={"SLSKDN_APP_DIR": str(tmp_path / "app")})).start()
        started.append((engine, None))
        assert engine.loop is not None

        async def up() -> tuple[Sandbox, SoulseekSession]:
            sandbox = Sandbox(tmp_path / "sandbox", files or [SandboxFile(TRACK, SIZE)], peers)
            started[-1] = (engine, sandbox)
            await sandbox.start()
            return sandbox, await sandbox.client("downloader")

        sandbox, client = engine.loop.submit(up()).result(30)
        net = Net(engine, sandbox, client)
        spy_uploads(sandbox, net.uploads)
        return net

    yield make
    stop_all(started)


@pytest.mark.parametrize("differs", [
    (MIDDLE[0] + 1000, MIDDLE[0] + 1100),  # another encode: same head, other audio
    (200, 300),  # retagged: other header, same audio
], ids=["middle", "head"])  # fmt: skip
def test_a_differing_copy_is_split_off_and_never_a_source(
    make_net: Callable[..., Net], differs: tuple[int, int]
) -> None:
    net = make_net([
        PeerSpec("a", upload_kbps=1024), PeerSpec("b", upload_kbps=1024),
        PeerSpec("c", upload_kbps=1024),
        # The fastest peer: without probes it would serve most of the file.
        PeerSpec("odd", upload_kbps=4096, misbehaviour=Misbehaviour(corrupt=differs)),
    ])  # fmt: skip
    groups = net.search()
    assert [g.sources for g in groups] == [4]  # name and size alone: one file

    probed = net.probe(groups)

    assert [(sorted(o.username for o in g.offers), g.confirmed) for g in probed.groups] == [
        (["a", "b", "c"], True), (["odd"], True),
    ]  # fmt: skip
    good, odd = probed.groups
    assert good.digests is not None and odd.digests is not None
    reference = net.sandbox.content(TRACK)
    assert good.digests == tuple(hashlib.sha256(reference[a:b]).hexdigest() for a, b in
                                 (HEAD, MIDDLE))  # fmt: skip
    assert all(r.ok for r in probed.results)
    assert {u: sorted(offsets) for u, offsets in net.uploads.items()} == {
        u: [0, MIDDLE[0]] for u in ["a", "b", "c", "odd"]}  # one probe each: head + middle
    assert not list(net.client.config.download_dir.glob(".probes-*"))  # scratch removed

    chosen = choose_group(probed.groups)
    assert chosen == good
    sources = [(o.username, o.path) for o in chosen.offers]
    dest = net.client.local_path_for(sources[0][1])
    result = download_multi_source(net.engine, net.client, sources, SIZE, dest, time_limit=45)
    assert result.ok, result.reason
    assert result.sha256 == net.sandbox.sha256(TRACK)
    assert result.bytes_by_peer.get("odd", 0) == 0
    assert sorted(net.uploads["odd"]) == [0, MIDDLE[0]]  # asked for nothing but the probe


def test_a_peer_over_the_budget_is_not_probed_twice(make_net: Callable[..., Net]) -> None:
    one, two = "Album/01 - Track.bin", "Album/02 - Track.bin"
    net = make_net(
        [PeerSpec("greedy"), PeerSpec("x", files=[one]), PeerSpec("y", files=[two])],
        [SandboxFile(one, 300_000), SandboxFile(two, 400_000)],
    )
    groups = net.search()
    assert sorted(g.sources for g in groups) == [2, 2]
    budget = ProbeBudget(probes_per_peer=1)

    first = net.probe(groups, budget=budget)

    assert [r.username for r in first.results].count("greedy") == 1
    assert [(o.username, "peer budget" in why) for o, why in first.skipped] == [("greedy", True)]
    assert len(net.uploads["greedy"]) == 2  # one probe: two ranges
    assert len(net.uploads["x"]) == len(net.uploads["y"]) == 2
    # Probing the same search again with what was spent: greedy is not asked again.
    second = net.probe(groups, budget=budget, spent=first.spent)
    assert "greedy" not in {r.username for r in second.results}
    assert len(net.uploads["greedy"]) == 2
    unconfirmed = [g for g in first.groups if not g.confirmed]
    assert [o.username for g in unconfirmed for o in g.offers] == ["greedy"]


def test_a_failed_probe_is_recorded_with_its_reason(make_net: Callable[..., Net]) -> None:
    net = make_net([
        PeerSpec("a"), PeerSpec("b"),
        PeerSpec("staller", misbehaviour=Misbehaviour(stall_after=1000)),
    ])  # fmt: skip
    probed = net.probe(net.search(), settings=ProbeSettings(stall_timeout_s=0.5, timeout_s=10))

    (failure,) = probed.failures
    assert failure.username == "staller" and failure.reason.startswith("stalled:")
    good, rest = probed.groups
    assert good.confirmed and sorted(o.username for o in good.offers) == ["a", "b"]
    assert not rest.confirmed and rest.failures == (("staller", failure.reason),)
    assert net.uploads["staller"] == [0]  # gave up after the first range: no second ask

    assert net.engine.actors is not None and net.engine.store is not None
    assert record_probe_failures(net.engine.actors, probed.results) == 1
    net.engine.flush()
    errors = [e for e in iter_events(net.engine.store) if e["type"] == "Peer.ErrorObserved"]
    assert [e["aggregate_id"] for e in errors] == [str(peer_id("staller"))]
    assert errors[0]["data"]["error_code"] == "probe"
    assert "stalled" in errors[0]["data"]["reason"]


def test_search_results_carry_the_attributes_quality_ranking_uses(tmp_path: Path) -> None:
    files = [SandboxFile("A/01 - Song.flac", seconds=1.0), SandboxFile("A/01 - Song.mp3",
                                                                      seconds=1.0)]

    async def scenario() -> list[Any]:
        async with Sandbox(tmp_path, files, [PeerSpec("p")]) as sandbox:
            client = await sandbox.client("q")
            return await client.search("Song", window_s=1.0)

    results = {r.path.rsplit(".", 1)[-1]: r for r in run(scenario())}
    assert (results["flac"].sample_rate, results["flac"].bit_depth) == (44_100, 16)
    assert results["mp3"].bitrate == 320 and results["mp3"].sample_rate is None
    groups = group_offers(offers_of(list(results.values())))
    assert [g.name for g in groups] == ["01 - Song.flac", "01 - Song.mp3"]


@pytest.mark.parametrize("how", ["query", "user-path"])
def test_the_download_command_uses_only_the_confirmed_copies(tmp_path: Path, how: str) -> None:
    """The front door, in another process: `slskdn download --query` and `slskdn download
    USER PATH --multi-source` against sandbox peers, the fastest of which shares a different
    copy under the same name and size."""
    root = tmp_path / "sandbox"
    peers = [PeerSpec("a", upload_kbps=1024), PeerSpec("b", upload_kbps=1024),
             PeerSpec("odd", upload_kbps=8192, misbehaviour=Misbehaviour(corrupt=MIDDLE))]
    sandbox = Sandbox(root, [SandboxFile(TRACK, SIZE)], peers)
    loop = LoopThread("test-sandbox").start()
    try:
        loop.submit(sandbox.start()).result(30)
        (root / STATE_FILE).write_text(json.dumps(sandbox.state()))
        what = (["--query", "Track"] if how == "query"
                else ["a", sandbox.remote_path("a", TRACK), "--multi-source"])
        got = slskdn(tmp_path / "app", "download", *what, "--sandbox", "--root", str(root),
                     "--window", "1", "--json")  # fmt: skip
        assert got.returncode == 0, got.stderr
        outcome = json.loads(got.stdout)
        assert outcome["ok"] and outcome["sha256"] == sandbox.sha256(TRACK)
        assert sorted(outcome["probe"]["sources"]) == ["a", "b"]
        assert outcome["probe"]["left_out"] == {"odd": "another copy: its probe differs"}
        assert outcome["bytes_by_peer"].get("odd", 0) == 0
    finally:
        loop.submit(sandbox.stop()).result(30)
        loop.stop()


def test_the_named_copy_is_the_reference_even_when_outnumbered(
        make_net: Callable[..., Net]) -> None:
    net = make_net([PeerSpec("a"), PeerSpec("b"),
                    PeerSpec("odd", misbehaviour=Misbehaviour(corrupt=(200, 300)))])
    loop, actors = net.engine.loop, net.engine.actors
    assert loop is not None and actors is not None
    path = net.sandbox.remote_path("odd", TRACK)

    found = group_for_file(loop, actors, net.client, "odd", path, 1.0)

    assert [o.username for o in found.group.offers] == ["odd"] and found.group.confirmed
    assert found.probe is not None
    assert found.probe["left_out"] == {u: "another copy: its probe differs" for u in "ab"}
    single = group_for_file(loop, actors, net.client, "a", net.sandbox.remote_path("a", TRACK),
                            1.0, multi_source=False)  # fmt: skip
    assert [o.username for o in single.group.offers] == ["a"] and single.probe is None


def test_the_probed_bytes_become_the_part_file_and_are_not_fetched_again(
        make_net: Callable[..., Net]) -> None:
    net = make_net([PeerSpec("a", upload_kbps=1024), PeerSpec("b", upload_kbps=1024)])
    service = DownloadService(net.engine, net.client, max_parallel=1)
    try:
        download = service.run(DownloadRequest(query="Track", window=1.0))
    finally:
        service.stop()
    result = download.result
    assert download.state == "completed", download.reason
    assert result is not None and result.sha256 == net.sandbox.sha256(TRACK)
    # The planner hands out pending bytes only: the head the probe fetched never was.
    starts = [d.start for _, d in result.decisions if isinstance(d, Assign | Steal)]
    assert starts and min(starts) >= HEAD[1], sorted(starts)[:3]
    assert not any(a < MIDDLE[1] and MIDDLE[0] < b for a, b in
                   ((d.start, d.end) for _, d in result.decisions if isinstance(d, Assign)))
    assert not list(net.client.config.download_dir.glob(".probe*"))  # scratch removed


def test_the_probing_deadline_fails_running_probes_and_skips_the_rest(tmp_path: Path) -> None:
    one, two = "Album/01 - Track.bin", "Album/02 - Track.bin"
    files = [SandboxFile(one, 100_000), SandboxFile(two, 100_000)]
    deaf = PeerSpec("deaf", misbehaviour=Misbehaviour(ignore_queue_requests=1000))

    async def scenario() -> ProbedCandidates:
        async with Sandbox(tmp_path, files, [deaf, PeerSpec("ok", files=[one])]) as sandbox:
            client = await sandbox.client("q")
            groups = group_offers(offers_of(await client.search("Track", window_s=1.0)))
            settings = ProbeSettings(timeout_s=30, deadline_s=2)
            return await probe_candidates(client, groups, settings=settings)

    probed = run(scenario())
    by_user: dict[str, list[str]] = {}
    for r in probed.results:
        by_user.setdefault(r.username, []).append(r.reason)
    # deaf's first probe was cut by the deadline; its second never started: not a failure.
    assert by_user == {"ok": [""], "deaf": ["timeout: probing stopped after 2 s"]}
    assert [g.confirmed for g in probed.groups].count(True) == 1

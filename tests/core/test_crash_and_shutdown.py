"""Faults with real processes: kill -9 mid-append, SIGTERM to the daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from slskdn.storage.database import DatabaseLocation
from slskdn.storage.event_store import EventStore

WRITER = textwrap.dedent(
    """
    import sys
    from slskdn.config import load_settings
    from slskdn.domain.peer import Peer
    from slskdn.engine import Engine

    settings = load_settings(env={"SLSKDN_APP_DIR": sys.argv[1]})
    engine = Engine(settings, follow_projections=False).start()
    n = 0
    while True:
        futures = [
            engine.observe_peer(f"peer{p}", Peer.record_rtt, rtt_ms=float(n + p))
            for p in range(8)
        ]
        for p, future in enumerate(futures):
            version = future.result()
            # Printed only after the ask is answered, i.e. after the commit.
            print(f"peer{p} {version}", flush=True)
        n += 1
    """
)


def test_kill_9_mid_append_loses_no_acknowledged_event(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    acknowledged: dict[str, int] = {}
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            name, version = line.split()
            acknowledged[name] = int(version)
            if sum(acknowledged.values()) >= 3000:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(acknowledged) == 8

    store = EventStore(DatabaseLocation(f"sqlite:///{tmp_path / 'slskdn.db'}"))
    try:
        from slskdn.domain.ids import peer_id

        for name, version in acknowledged.items():
            events = store.events_of(peer_id(name))
            assert len(events) >= version, f"{name}: acknowledged {version}, stored {len(events)}"
            assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    finally:
        store.close()


def test_the_daemon_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLSKDN_")}
    env["SLSKDN_APP_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "slskdn.cli.main", "--log-format", "json", "daemon"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    for line in proc.stderr:
        if "daemon running" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the daemon did not exit within 20 s of SIGTERM") from None
    rest = proc.stderr.read()
    assert code == 0, rest
    assert "daemon stopped" in rest

"""Event store throughput through the actors, beside raw SQLite inserts in the same run.

    scripts/bench eventstore [--transfers 200] [--ranges 100] [--clients 1]
                             [--window 2000] [--ack window|command] [--repeat 3]
                             [--append-only]

Drives synthetic multi-source transfers through Transfer and Peer actors (many actors,
commands pipelined as a network layer would send them), counts events acknowledged
(= committed), then rebuilds the activity projection from event 0. Besides the rates it
prints the process CPU time per appended event, all threads together: under the GIL that
is what bounds the rate, and it is far steadier than wall time on a shared machine.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slskdn.config import load_settings
from slskdn.domain.ids import new_id, peer_id
from slskdn.domain.peer import Peer
from slskdn.domain.transfer import Transfer
from slskdn.engine import Engine
from slskdn.projections.activity import ActivityProjection
from slskdn.projections.framework import ProjectionRunner

PEERS = [f"peer{i:02d}" for i in range(16)]
RANGE = 256 * 1024


def drive_transfers(engine: Engine, transfers: int, ranges: int, window: int, ack: str) -> int:
    """One client: create transfers and stream range events at them; returns events sent.

    ``ack="command"``: every command has its own future, awaited per window.
    ``ack="window"``: commands are told without futures, and each window ends with a flush
    of the actors it touched: when it returns, every event of the window is committed.
    """
    actors = engine.actors
    assert actors is not None
    pending: list[Future[int]] = []
    touched: set[uuid.UUID] = set()
    sent = 0

    def push(aggregate_id: uuid.UUID, method: Any, create: Any = None, **kwargs: Any) -> None:
        nonlocal sent
        sent += 1
        if ack == "command":
            pending.append(actors.command(aggregate_id, method, create, **kwargs))
        else:
            actors.tell(aggregate_id, method, create, **kwargs)
            touched.add(aggregate_id)
        if sent % window == 0:
            settle()

    def settle() -> None:
        for f in pending:
            f.result()
        pending.clear()
        if touched:
            actors.flush(touched)
            touched.clear()

    for t in range(transfers):
        transfer_id = new_id(datetime.now(UTC))
        size = ranges * RANGE
        push(
            transfer_id,
            None,
            lambda id, at, size=size: Transfer.create(
                id=id, at=at, filename="x.flac", size_bytes=size, job_id=None
            ),
        )
        sources = [PEERS[(t + k) % len(PEERS)] for k in range(4)]
        source_ids = [peer_id(s) for s in sources]
        push(
            transfer_id,
            Transfer.add_sources,
            sources=[
                {"peer_id": str(pid), "username": s, "kind": "soulseek"}
                for s, pid in zip(sources, source_ids, strict=True)
            ],
        )
        for r in range(ranges):
            k = r % 4
            pid = str(source_ids[k])
            push(transfer_id, Transfer.request_range, peer_id=pid, offset=r * RANGE, length=RANGE)
            push(transfer_id, Transfer.receive_range, peer_id=pid, offset=r * RANGE,
                 length=RANGE, duration_ms=40)  # fmt: skip
            push(source_ids[k], Peer.record_range_served, _peer_creator(sources[k]),
                 bytes=RANGE, duration_ms=40)  # fmt: skip
    settle()
    return sent


def _peer_creator(username: str) -> Any:
    return lambda id, at: Peer.create(id=id, at=at, username=username, source_kind="soulseek")


def raw_sqlite_inserts(path: Path, rows: int) -> float:
    """Plain sqlite3 inserts of rows shaped like stored events, one transaction."""
    state = json.dumps(
        {
            "peer_id": str(uuid.uuid4()),
            "source_kind": "soulseek",
            "offset": 123456789,
            "bytes": RANGE,
            "duration_ms": 40,
            "error_code": "",
            "job_id": None,
            "recording_id": "",
            "variant_id": "",
            "timestamp": datetime.now(UTC).isoformat(),
        }
    ).encode()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE stored_events (originator_id BLOB, originator_version INTEGER, "
        "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    ids = [uuid.uuid4().bytes for _ in range(200)]
    data = [
        (ids[i % 200], i, "slskdn.domain.transfer:Transfer.RangeReceived", state)
        for i in range(rows)
    ]
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", data)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return rows / seconds


def run_once(
    transfers: int, ranges: int, clients: int, window: int, ack: str, append_only: bool = False
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="slskdn-bench-") as tmp:
        settings = load_settings(env={"SLSKDN_APP_DIR": tmp})
        engine = Engine(settings, follow_projections=False).start()
        counts = [0] * clients
        per_client = transfers // clients

        def client(i: int) -> None:
            counts[i] = drive_transfers(engine, per_client, ranges, window, ack)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        cpu_started = time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        append_seconds = time.perf_counter() - started
        # CPU of the whole process (every thread) per event: steadier than wall time on a
        # shared machine, and the figure that bounds throughput under the GIL.
        append_cpu = time.process_time() - cpu_started
        assert engine.writer is not None and engine.store is not None
        transactions = engine.writer.transactions
        actors = engine.actors.live_actors() if engine.actors else 0
        store = engine.store
        events = store.max_position()
        appended = {
            "append_events_per_s": sum(counts) / append_seconds,
            "append_cpu_us_per_event": append_cpu / sum(counts) * 1e6,
        }
        counted = {"events": events, "transactions": transactions, "actors": actors}
        if append_only:
            engine.stop()
            return appended | counted
        location = engine.location
        sa_engine = location.create_engine()
        runner = ProjectionRunner(store, sa_engine, ActivityProjection())
        started = time.perf_counter()
        rebuilt = runner.rebuild()
        rebuild_seconds = time.perf_counter() - started
        engine.stop()
        sa_engine.dispose()
        raw = raw_sqlite_inserts(Path(tmp) / "raw.db", events)
        db_mb = os.path.getsize(Path(tmp) / "slskdn.db") / 1e6
    return (
        appended
        | {"raw_sqlite_inserts_per_s": raw, "rebuild_events_per_s": rebuilt / rebuild_seconds}
        | counted
        | {"db_mb": db_mb}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=200)
    parser.add_argument("--ranges", type=int, default=100)
    # One client by default: in the daemon, network events reach actors from the single
    # asyncio loop thread.
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--window", type=int, default=2000, help="commands in flight per client")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--ack",
        choices=["window", "command"],
        default="window",
        help="acknowledge per window with a flush (default) or per command with a future",
    )
    parser.add_argument(
        "--append-only",
        action="store_true",
        help="skip the rebuild and the raw reference (e.g. to count instructions per event)",
    )
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        result = run_once(
            args.transfers, args.ranges, args.clients, args.window, args.ack, args.append_only
        )
        runs.append(result)
        print(
            f"run {i + 1}/{args.repeat}: " + ", ".join(f"{k}={v:,.1f}" for k, v in result.items()),
            flush=True,
        )
    summary = {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}
    if not args.append_only:
        summary["append_vs_raw_ratio"] = round(
            summary["append_events_per_s"] / summary["raw_sqlite_inserts_per_s"], 3
        )
    summary["runs"] = args.repeat
    summary["clients"] = args.clients
    summary["ack"] = args.ack
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

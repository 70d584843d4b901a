"""The engine embedded in another Python process, as docs/embedding.md shows."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from slskdn.config import Settings
from slskdn.domain.job import Job
from slskdn.engine import Engine
from slskdn.projections.activity import rows

HOST_PROGRAM = textwrap.dedent(
    """
    import sys
    from slskdn.config import load_settings
    from slskdn.domain.job import Job
    from slskdn.engine import Engine

    with Engine(load_settings(env={"SLSKDN_APP_DIR": sys.argv[1]})) as engine:
        job_id = engine.create_job("release", "mbid").result(timeout=30)
        engine.command(job_id, Job.start).result(timeout=30)
        print(job_id)
    # Leaving the block must stop every thread, or this interpreter would not exit.
    """
)


def test_a_host_process_starts_and_stops_the_engine_and_exits(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", HOST_PROGRAM, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 36


def test_the_engine_keeps_projections_current_and_leaves_no_threads(settings: Settings) -> None:
    before = set(threading.enumerate())
    with Engine(settings) as engine:
        job_id = engine.create_job("track", "x").result(timeout=30)
        engine.command(job_id, Job.start).result(timeout=30)
        engine.catch_up()
        with engine.projections["activity"].engine.connect() as conn:
            jobs = rows(conn)["jobs"]
        assert [(j["job_id"], j["status"], j["events"]) for j in jobs] == [
            (str(job_id), "running", 2)
        ]
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []

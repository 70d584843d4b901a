"""`slskdn daemon`: run the engine until SIGINT or SIGTERM, then shut down cleanly."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import typer

from slskdn.cli.common import current_settings, fail
from slskdn.engine import Engine
from slskdn.logs import get_logger
from slskdn.storage.database import StoreUnavailable

log = get_logger(__name__)


def daemon() -> None:
    """Start the engine and keep it running until interrupted."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received; shutting down", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        engine = Engine(current_settings()).start()
    except StoreUnavailable as exc:
        fail(str(exc))
    log.info("daemon running", pid=os.getpid(), database=engine.location.display())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        engine.stop()
    log.info("daemon stopped")


def register(app: typer.Typer) -> None:
    app.command("daemon")(daemon)

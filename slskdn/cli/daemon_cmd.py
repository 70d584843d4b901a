"""`slskdn daemon`: run the engine — and the Soulseek session when configured — until SIGINT
or SIGTERM, then shut down cleanly.

With `soulseek.username`/`soulseek.password` set (or `--sandbox`), the daemon logs in,
shares `library.directories`, resumes the downloads the log says are unfinished, and serves
the HTTP API (`api.host`/`api.port`) through which `slskdn search` and `slskdn download`
reach it. Without credentials it runs the engine alone and says so.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from slskdn.cli.common import current_settings, fail
from slskdn.cli.sandbox_cmd import RootOption
from slskdn.daemon.api import create_app
from slskdn.daemon.downloads import DownloadService
from slskdn.daemon.server import ApiServer, remove_state, write_state
from slskdn.engine import Engine
from slskdn.logs import get_logger
from slskdn.soulseek.client import SoulseekSession
from slskdn.storage.database import StoreUnavailable

log = get_logger(__name__)


def daemon(
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Connect to the running `slskdn sandbox`.")
    ] = False,
    root: RootOption = None,
) -> None:
    """Start the engine (and the Soulseek session) and keep running until interrupted."""
    from slskdn.cli.soulseek_cmd import session_settings

    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received; shutting down", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    settings = current_settings()
    wants_soulseek = sandbox or bool(settings.soulseek.username)
    config = None
    if wants_soulseek:
        shares = [p.expanduser() for p in settings.library.directories]
        config = dataclasses.replace(
            session_settings(sandbox, root, "slskdn-daemon"), share_dirs=shares
        )
    try:
        engine = Engine(settings).start()
    except StoreUnavailable as exc:
        fail(str(exc))
    session = service = server = None
    app_dir = settings.app_dir.expanduser()
    try:
        if config is not None:
            assert engine.loop is not None
            session = SoulseekSession(config)
            try:
                engine.loop.submit(session.start()).result(config.login_timeout + 10)
            except Exception as exc:
                fail(f"cannot log in to {config.host}:{config.port} as {config.username}: {exc}")
            log.info(
                "soulseek connected", server=f"{config.host}:{config.port}",
                username=config.username, shares=[str(p) for p in config.share_dirs],
            )  # fmt: skip
            service = DownloadService(engine, session)
            network = {"server": f"{config.host}:{config.port}", "username": config.username}
            keys = [k.get_secret_value() for k in settings.api.keys]
            try:
                server = ApiServer(create_app(service, keys, network), settings.api.host,
                                   settings.api.port).start()  # fmt: skip
            except OSError as exc:
                fail(str(exc))
            write_state(app_dir, {"pid": os.getpid(), "api": {"url": server.url},
                                  "network": network})  # fmt: skip
            log.info("api listening", url=server.url)
            service.resume_unfinished()
        else:
            log.info("soulseek not configured: set soulseek.username and soulseek.password")
        log.info("daemon running", pid=os.getpid(), database=engine.location.display())
        while not stop.wait(0.5):
            pass
    finally:
        if server is not None:
            remove_state(app_dir)
            server.stop()
        if service is not None:
            service.stop()
        if session is not None and engine.loop is not None:
            try:
                engine.loop.submit(session.stop()).result(30)
            except Exception as exc:
                log.warning("soulseek session did not stop cleanly", error=repr(exc))
        engine.stop()
    log.info("daemon stopped")


def register(app: typer.Typer) -> None:
    app.command("daemon")(daemon)

"""Serve the API with uvicorn on a thread of its own, and tell other processes where.

The socket is bound here, before uvicorn starts, so a taken port is an ``OSError`` naming
the address rather than a log line from a thread; port 0 picks a free port. The address is
written to ``daemon.json`` in the app directory, which is how the CLI finds the daemon.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

STATE_FILE = "daemon.json"


class ApiServer:
    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> ApiServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot serve the API on {self.host}:{self.port}: {exc.strerror}"
                          ) from None  # fmt: skip
        self.port = sock.getsockname()[1]
        self._sock = sock
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="slskdn-api", daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"the API server on {self.host}:{self.port} did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def write_state(app_dir: Path, data: dict[str, Any]) -> Path:
    path = app_dir / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
    return path


def read_state(app_dir: Path) -> dict[str, Any] | None:
    """The running daemon's ``daemon.json``, or None (absent, unreadable, or its pid gone)."""
    try:
        data = json.loads((app_dir / STATE_FILE).read_text())
        os.kill(int(data["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def remove_state(app_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (app_dir / STATE_FILE).unlink()

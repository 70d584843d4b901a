"""Talk to a running daemon over its HTTP API (what the CLI does when one is up)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .api import PREFIX
from .server import read_state

FINAL_STATES = frozenset({"completed", "failed", "cancelled", "interrupted"})


class DaemonError(Exception):
    """The daemon refused a request or could not be reached; the message says which."""


class DaemonClient:
    def __init__(self, url: str, key: str | None = None, timeout: float = 30.0) -> None:
        headers = {"X-API-Key": key} if key else {}
        self.url = url
        self._http = httpx.Client(base_url=url + PREFIX, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DaemonError(f"cannot reach the daemon at {self.url}: {exc}") from None
        if response.is_error:
            raise DaemonError(f"the daemon answered {response.status_code}: {_detail(response)}")
        return response.json()

    def status(self) -> dict[str, Any]:
        return dict(self._call("GET", "/status"))

    def search(self, query: str, window: float, probe: bool = False) -> list[dict[str, Any]]:
        body = self._call("POST", "/searches",
                          json={"query": query, "window": window, "probe": probe},
                          timeout=window + 240)  # fmt: skip
        return list(body["groups"])

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/downloads", json=request))

    def download(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/downloads/{job_id}"))

    def seek(self, job_id: str, seconds: float) -> dict[str, Any]:
        return dict(self._call("POST", f"/downloads/{job_id}/play-position",
                               json={"seconds": seconds}))  # fmt: skip

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("DELETE", f"/downloads/{job_id}"))

    def wait(self, job_id: str, on_update: Callable[[dict[str, Any]], None] | None = None,
             interval: float = 0.5) -> dict[str, Any]:
        """Poll until the download ends; ``on_update`` sees every status on the way."""
        while True:
            record = self.download(job_id)
            if on_update is not None:
                on_update(record)
            if record["state"] in FINAL_STATES:
                return record
            time.sleep(interval)


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return response.text[:200]
    if isinstance(detail, list):  # pydantic validation errors
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}"
                         for d in detail)  # fmt: skip
    return str(detail)


def running_daemon(app_dir: Path, keys: list[str]) -> tuple[DaemonClient, dict[str, Any]] | None:
    """A client for the daemon of ``app_dir`` and its state, when one is running."""
    state = read_state(app_dir)
    if state is None:
        return None
    return DaemonClient(state["api"]["url"], keys[0] if keys else None), state

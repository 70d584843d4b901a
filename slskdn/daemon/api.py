"""The daemon's HTTP API (FastAPI): searches and downloads for the CLI and other clients.

Everything under ``/api/v0``. When ``api.keys`` is set, every request must carry one of them
in ``X-API-Key``. Blocking work (a search window, the engine's futures) runs in threads, so
the server's loop stays free to answer status requests while downloads run.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from typing import Any
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse

from slskdn import __version__
from slskdn.soulseek.lookup import group_record, probe_groups, search_groups

from .downloads import DownloadService
from .requests import DownloadRequest, PlayPosition, SearchRequest

PREFIX = "/api/v0"


def create_app(service: DownloadService, keys: list[str], network: dict[str, Any]) -> FastAPI:
    """The API over ``service``; ``network`` says which Soulseek server it is logged in to."""
    app = FastAPI(title="slskdn", version=__version__, docs_url=f"{PREFIX}/docs",
                  openapi_url=f"{PREFIX}/openapi.json")  # fmt: skip

    def check_key(request: Request) -> None:
        if not keys:
            return
        given = request.headers.get("x-api-key", "")
        if not any(secrets.compare_digest(given, k) for k in keys):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-API-Key")

    guarded = [Depends(check_key)]

    @app.exception_handler(ValueError)
    async def _bad_value(_request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)

    @app.get(f"{PREFIX}/status", dependencies=guarded)
    async def node_status() -> dict[str, Any]:
        states = Counter(d.state for d in service.all())
        return {"version": __version__, "network": network, "downloads": dict(states)}

    @app.post(f"{PREFIX}/searches", dependencies=guarded)
    async def search(body: SearchRequest) -> dict[str, Any]:
        loop, actors = service.engine.loop, service.engine.actors
        assert loop is not None and actors is not None
        groups = await asyncio.to_thread(
            search_groups, loop, service.session, body.query, body.window)
        if body.probe:
            probed = await asyncio.to_thread(probe_groups, loop, actors, service.session, groups)
            groups = probed.groups
        return {"query": body.query, "groups": [group_record(g) for g in groups]}

    @app.post(f"{PREFIX}/downloads", dependencies=guarded,
              status_code=status.HTTP_202_ACCEPTED)  # fmt: skip
    async def start_download(body: DownloadRequest) -> dict[str, Any]:
        try:
            download = await asyncio.to_thread(service.submit, body, "api")
        except RuntimeError as exc:  # stopping
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
        return download.record()

    @app.get(f"{PREFIX}/downloads", dependencies=guarded)
    async def list_downloads() -> list[dict[str, Any]]:
        return [d.record() for d in service.all()]

    @app.get(f"{PREFIX}/downloads/{{job_id}}", dependencies=guarded)
    async def download_status(job_id: UUID) -> dict[str, Any]:
        found = await asyncio.to_thread(service.status, job_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"no download {job_id} in this daemon")  # fmt: skip
        return found

    @app.post(f"{PREFIX}/downloads/{{job_id}}/play-position", dependencies=guarded)
    async def move_play_head(job_id: UUID, body: PlayPosition) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(service.seek, job_id, body)
        except KeyError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, exc.args[0]) from None
        except ValueError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None

    @app.delete(f"{PREFIX}/downloads/{{job_id}}", dependencies=guarded)
    async def cancel_download(job_id: UUID) -> dict[str, Any]:
        if not service.cancel(job_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"no running download {job_id} in this daemon")  # fmt: skip
        return {"job_id": str(job_id), "cancelling": True}

    return app

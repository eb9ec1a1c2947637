"""The REST routes: live, history, organizations, and the probes (CONTRACT 5)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from atum_metrics import history as history_reads
from atum_metrics.auth import tenant_of
from atum_metrics.errors import ApiError
from atum_metrics.openapi import openapi
from atum_metrics.resources import load_sql, resource_dir
from atum_metrics.runtime import organization_in_scope, runtime_of
from atum_metrics.stream import StreamEndpoint
from atum_metrics.worker import DB_ERRORS

JSON = "application/json"
READY_TIMEOUT = 2.0
READY_ERRORS: tuple[type[BaseException], ...] = (*DB_ERRORS, TimeoutError)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


async def live(request: Request) -> Response:
    rt = runtime_of(request)
    org = await organization_in_scope(request)
    frame = await rt.feed.latest(org, warm=rt.listener.live)
    if frame is None:
        raise ApiError(404, "no_snapshot", "This organization has no snapshot yet.")
    etag = f'"{frame.id}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(frame.body, media_type=JSON, headers=headers)


async def history(request: Request) -> Response:
    rt = runtime_of(request)
    org = await organization_in_scope(request)
    span = history_reads.parse_span(
        request.query_params, rt.settings.history_max_range, datetime.now(UTC)
    )
    body = await history_reads.history(rt.read_pool, org, span)
    return Response(body, media_type=JSON, headers={"Cache-Control": "private, no-store"})


async def organizations(request: Request) -> Response:
    rt = runtime_of(request)
    claims = tenant_of(request)
    async with rt.pool.acquire() as conn:
        rows = await conn.fetch(
            load_sql("organizations_list"), None if claims.admin else claims.organization_id
        )
    items = [
        {
            "id": str(r["id"]),
            "name": r["name"],
            "latest_snapshot_ts": (
                history_reads.iso(r["latest_snapshot_ts"]) if r["latest_snapshot_ts"] else None
            ),
        }
        for r in rows
    ]
    return Response(orjson.dumps({"items": items}), media_type=JSON)


async def openapi_json(request: Request) -> Response:
    return Response(openapi(), media_type=JSON)


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


async def readyz(request: Request) -> Response:
    rt = runtime_of(request)
    database = True
    try:
        async with asyncio.timeout(READY_TIMEOUT), rt.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
    except READY_ERRORS:
        database = False
    listening = rt.listener.live
    ready = database and listening
    body = orjson.dumps({"ready": ready, "database": database, "listening": listening})
    return Response(body, status_code=200 if ready else 503, media_type=JSON)


async def metrics(request: Request) -> Response:
    body = runtime_of(request).telemetry.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def dashboard_routes() -> list[BaseRoute]:
    """``/desk/dashboard`` and its files from ``web/`` (absent when installed without it)."""
    try:
        web = resource_dir("web")
    except FileNotFoundError:
        return []
    page = web / "dashboard.html"

    async def dashboard(request: Request) -> Response:
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    return [
        Route("/desk/dashboard", dashboard, methods=["GET"]),
        Mount("/desk/static", StaticFiles(directory=web), name="static"),
    ]


def build_routes() -> list[BaseRoute]:
    return [*ROUTES, *dashboard_routes()]


ROUTES: list[BaseRoute] = [
    Route("/api/v1/metrics/live", live, methods=["GET"]),
    Route("/api/v1/metrics/history", history, methods=["GET"]),
    Route("/api/v1/metrics/stream", StreamEndpoint(), methods=["GET"]),
    Route("/api/v1/organizations", organizations, methods=["GET"]),
    Route("/api/v1/openapi.json", openapi_json, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]

"""The server: the Starlette app (everything made in its lifespan) and uvicorn around it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import Receive, Scope, Send

from atum_metrics import database
from atum_metrics.auth import RedactTokens, TokenBackend, on_auth_error
from atum_metrics.errors import EXCEPTION_HANDLERS
from atum_metrics.feed import Feed
from atum_metrics.hub import Hub
from atum_metrics.listener import Listener
from atum_metrics.routes import build_routes
from atum_metrics.runtime import Runtime
from atum_metrics.settings import Settings
from atum_metrics.stream import STREAM_PATH, keepalive, serve_stream
from atum_metrics.telemetry import Telemetry
from atum_metrics.tokens import Verifier

logger = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 3
BACKLOG = 8192
# gen0 every 10,000 net allocations, gen1 every 10 of those, a full pass every 100 of gen1.
GC_THRESHOLDS = (10_000, 10, 100)
APP_NAME = "atum-metrics-api"
LISTEN_APP_NAME = "atum-metrics-listen"


class ServerError(RuntimeError):
    """The server could not start."""


async def _pools(settings: Settings) -> tuple[asyncpg.Pool, asyncpg.Pool]:
    # min_size=0: the app starts while Postgres is away; /readyz says 503 until it answers.
    pool = await database.create_pool(
        database.primary_url(settings), application_name=APP_NAME, min_size=0, max_size=10
    )
    if not settings.read_database_url:
        return pool, pool
    read = await database.create_pool(
        settings.read_database_url, application_name=APP_NAME, min_size=0, max_size=10
    )
    return pool, read


class App(Starlette):
    """Starlette, with the stream served ahead of the middleware stack: the hub writes frames
    straight to uvicorn's connection, which needs uvicorn's own ``send`` (see wire.py)."""

    def __init__(self, stream_backend: TokenBackend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stream_backend = stream_backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == STREAM_PATH:
            scope["app"] = self
            await serve_stream(self._stream_backend, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, telemetry: Telemetry | None = None) -> Starlette:
    """The app; pools, the LISTEN connection, the hub and their tasks live in its lifespan."""
    verifier = Verifier(settings)
    metrics = telemetry if telemetry is not None else Telemetry()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool, read_pool = await _pools(settings)
        hub = Hub(settings.sse_max_per_org, on_sent=metrics.frames_sent)
        feed = Feed(pool, hub, settings.sse_replay_max)
        listener = Listener(
            lambda: database.connect(
                database.primary_url(settings), application_name=LISTEN_APP_NAME
            ),
            feed.announce,
            feed.resync,
            on_reconnect=metrics.listener_reconnects.inc,
        )
        app.state.runtime = Runtime(settings, pool, read_pool, hub, feed, listener, metrics)
        metrics.track_streams(lambda: hub.count)
        unwatch_gc = metrics.watch_gc()
        stop = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(listener.run(stop))
                tasks.create_task(feed.run(stop))
                tasks.create_task(
                    keepalive(hub, stop, settings.sse_ping, settings.sse_send_timeout)
                )
                try:
                    yield
                finally:
                    hub.close_all()
                    stop.set()
                    feed.stop()
        finally:
            unwatch_gc()
            for each in {id(pool): pool, id(read_pool): read_pool}.values():
                await each.close()

    backend = TokenBackend(verifier)
    return App(
        backend,
        routes=build_routes(),
        middleware=[
            Middleware(AuthenticationMiddleware, backend=backend, on_error=on_auth_error),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


class _Server(uvicorn.Server):
    """uvicorn that leaves SIGTERM and SIGINT to the caller."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard one (the default 1,024 caps streams)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class _QuietDrops(logging.Filter):
    """A dropped stalled stream ends without completing its response, on purpose (uvicorn
    then closes the connection); every other route always completes its response."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "ASGI callable returned without completing response."


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    for name, kind in (("uvicorn.access", RedactTokens), ("uvicorn.error", _QuietDrops)):
        target = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in target.filters):
            target.addFilter(kind())
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        lifespan="on",
        backlog=BACKLOG,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        ws="none",
        # uvicorn's own switch for trusted proxies; without one, no proxy-header layer (it
        # would hold one more coroutine frame per open stream).
        proxy_headers="FORWARDED_ALLOW_IPS" in os.environ,
    )


async def _serve(server: uvicorn.Server) -> None:
    # uvicorn calls sys.exit() when it cannot bind; the caller reports that, not a traceback.
    with contextlib.suppress(SystemExit):
        await server.serve()


async def run_server(
    settings: Settings,
    host: str,
    port: int,
    stop: asyncio.Event,
    telemetry: Telemetry | None = None,
) -> None:
    """Serve until ``stop`` is set, then close every stream and return (within 5 s)."""
    limit = raise_open_file_limit()
    app = create_app(settings, telemetry)
    server = _Server(_config(app, host, port))
    serving = asyncio.create_task(_serve(server))
    stopping = asyncio.create_task(stop.wait())
    # uvicorn offers no "started" event to wait on; poll its flag.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    # Long-lived start-up objects (modules, the warm hub) need never be scanned again, and
    # full collections come rarely (see memory.py: stream objects are frozen as they arrive).
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLDS[0], GC_THRESHOLDS[1], GC_THRESHOLDS[2])
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not serving.done():
        logger.info("stopping: closing %d streams", app.state.runtime.hub.count)
        app.state.runtime.hub.close_all()
        server.should_exit = True
    stopping.cancel()
    await serving
    if not server.started:
        raise ServerError(f"the server did not start on {host}:{port}")
    logger.info("server stopped (open-file limit was %d)", limit)


def serve(settings: Settings, host: str, port: int) -> None:
    """``atum-metrics serve``: the server alone (the worker runs elsewhere)."""
    from atum_metrics.cli import run_async
    from atum_metrics.tokens import with_signing_key

    settings = with_signing_key(settings)
    try:
        run_async(lambda stop: run_server(settings, host, port, stop))
    except ServerError as exc:
        logger.error("%s", exc)
        raise SystemExit(1) from None

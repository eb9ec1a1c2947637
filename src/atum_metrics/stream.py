"""The stream: ``GET /api/v1/metrics/stream`` as a plain ASGI app (CONTRACT 6).

No task, queue or encoding per client: a stream waits on its subscriber's one-frame slot and
writes the hub's pre-encoded bytes. Pings and the stalled-client watchdog run once for all.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from starlette.authentication import AuthenticationBackend, AuthenticationError
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from atum_metrics.auth import on_auth_error, tenant_of
from atum_metrics.errors import ApiError, json_error
from atum_metrics.hub import RETRY_MS, Frame, Hub, StreamsFull, Subscriber
from atum_metrics.memory import FreezePolicy
from atum_metrics.runtime import Runtime, organization_in_scope, runtime_of
from atum_metrics.wire import Wire, chunk
from atum_metrics.worker import wait_or_stop

logger = logging.getLogger(__name__)

HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]
RETRY = b"retry: %d\n\n" % RETRY_MS
PING = b": ping\n\n"
PING_CHUNK = chunk(PING)
WATCHDOG_EVERY = 1.0


def _last_event_id(request: HTTPConnection) -> str | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return raw.strip() or None if raw else None


def _reset(missed: int | None) -> bytes:
    return b'event: reset\ndata: {"missed": %s}\n\n' % (
        b"null" if missed is None else b"%d" % missed
    )


async def _opening(rt: Runtime, org: uuid.UUID, last_id: str | None) -> tuple[bytes, Frame | None]:
    """The first bytes of the stream, and the newest frame among them."""
    warm = rt.listener.live
    if last_id is None:
        latest = await rt.feed.latest(org, warm=warm)
        return (latest.event if latest else b""), latest
    try:
        snapshot_id = uuid.UUID(last_id)
    except ValueError:
        latest = await rt.feed.latest(org, warm=warm)
        return _reset(None) + (latest.event if latest else b""), latest
    replay = await rt.feed.replay(org, snapshot_id, warm=warm)
    head = _reset(replay.missed) if replay.reset else b""
    frames = replay.frames
    newest = frames[-1] if frames else await rt.feed.latest(org, warm=warm)
    return head + b"".join(f.event for f in frames), newest


STREAM_PATH = "/api/v1/metrics/stream"


async def serve_stream(
    backend: AuthenticationBackend, scope: Scope, receive: Receive, send: Send
) -> None:
    """The stream ahead of the middleware stack, authenticated by the same backend, so that
    ``send`` is the server's own (see wire.py); answers errors as JSON like every route."""
    conn = HTTPConnection(scope)
    try:
        if scope["method"] not in ("GET", "HEAD"):
            raise ApiError(405, "method_not_allowed", f"{scope['method']} is not allowed here.")
        result = await backend.authenticate(conn)
        if result is None:
            raise ApiError(401, "unauthorized", "A token is required.")
        scope["auth"], scope["user"] = result
        rt, subscriber, last_id = await _admit(conn)
    except AuthenticationError as exc:
        await on_auth_error(conn, exc)(scope, receive, send)
        return
    except ApiError as exc:
        response = json_error(exc.status, exc.code, exc.detail)
        if exc.status == 405:
            response.headers["Allow"] = "GET, HEAD"
        await response(scope, receive, send)
        return
    # A stream lives long: keep only what it needs (and one coroutine frame less than _run).
    del conn, result
    scope.pop("auth", None)
    scope.pop("user", None)
    try:
        await _serve(rt, subscriber, last_id, receive, send)
    finally:
        rt.hub.unsubscribe(subscriber)


class StreamEndpoint:
    """The stream as a plain route (behind the middleware), for servers other than uvicorn."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rt, subscriber, last_id = await _admit(HTTPConnection(scope))
        await _run(rt, subscriber, last_id, receive, send)


async def _admit(conn: HTTPConnection) -> tuple[Runtime, Subscriber, str | None]:
    """Checks and a place in the hub for a new stream, or an ApiError."""
    rt = runtime_of(conn)
    org = await organization_in_scope(conn)
    claims = tenant_of(conn)
    if rt.hub.closing:
        raise ApiError(503, "unavailable", "The server is shutting down.")
    try:
        subscriber = rt.hub.subscribe(org, claims.expires_at)
    except StreamsFull:
        limit = rt.settings.sse_max_per_org
        raise ApiError(
            429, "too_many_streams", f"This organization already has {limit} open streams."
        ) from None
    return rt, subscriber, _last_event_id(conn)


async def _run(
    rt: Runtime, subscriber: Subscriber, last_id: str | None, receive: Receive, send: Send
) -> None:
    try:
        await _serve(rt, subscriber, last_id, receive, send)
    finally:
        rt.hub.unsubscribe(subscriber)


async def _serve(
    rt: Runtime, sub: Subscriber, last_id: str | None, receive: Receive, send: Send
) -> None:
    opening, newest = await _opening(rt, sub.organization_id, last_id)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": RETRY + opening, "more_body": True})
    sub.last_ts = newest.snapshot_ts if newest else None
    sub.task = asyncio.current_task()
    # Under uvicorn the hub writes frames itself and the keep-alive loop notices a departed
    # client; elsewhere a small task waits for the disconnect message.
    sub.wire = Wire.under(send)
    disconnect = None
    if sub.wire is None:
        disconnect = asyncio.ensure_future(_disconnected(receive))
        disconnect.add_done_callback(lambda _f: sub.close())
    try:
        await _pump(rt, sub, send)
    except asyncio.CancelledError:
        if not sub.dropped:
            raise
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
        rt.telemetry.streams_dropped.inc()
        logger.info("dropped a stream of %s that accepted nothing", sub.organization_id)
        return  # uvicorn closes the connection of a response left incomplete
    finally:
        sub.wire = None
        sub.task = None
        if disconnect is not None:
            disconnect.cancel()
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    """Returns when the client goes away (the request's own body comes first)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _pump(rt: Runtime, sub: Subscriber, send: Send) -> None:
    """Write what the hub could not write directly: the newest frame (with the recent ones a
    reader only slightly behind missed) and pings, through ASGI send and its flow control."""
    loop = asyncio.get_running_loop()
    hub = rt.hub
    while True:
        if sub.pending is None and not sub.ping and not sub.closed:
            sub.waiter = loop.create_future()
            try:
                await sub.waiter  # inline rather than sub.wait(): one coroutine frame less
            finally:
                sub.waiter = None
        if sub.closed:
            return
        frame, sub.pending = sub.pending, None
        frames: list[Frame] = []
        last_ts = sub.last_ts
        if frame is not None and (last_ts is None or frame.snapshot_ts > last_ts):
            frames = [frame] if last_ts is None else hub.since(frame, last_ts)
        out = b"".join(f.event for f in frames)
        if sub.ping:
            sub.ping = False
            out += PING
        if not out:
            continue
        sub.sending_since = loop.time()
        await send({"type": "http.response.body", "body": out, "more_body": True})
        sub.sending_since = None
        if frames:
            sub.last_ts = frames[-1].snapshot_ts
            rt.telemetry.frames_sent(frames[-1], len(frames))


async def keepalive(hub: Hub, stop: asyncio.Event, ping: float, send_timeout: float) -> None:
    """Once for all streams: pings every ``ping`` seconds, and every second closing the streams
    whose client left or whose token expired, and dropping those stuck in a write too long."""
    loop = asyncio.get_running_loop()
    next_ping = loop.time() + ping
    freezer = FreezePolicy()
    while not await wait_or_stop(stop, min(WATCHDOG_EVERY, ping, send_timeout / 2)):
        freezer.tick(hub.count, hub.closed_total)
        now, wall = loop.time(), time.time()
        if now >= next_ping:
            hub.ping_all(PING_CHUNK)
            next_ping = now + ping
        for sub in hub.all_subscribers():
            if sub.expires_at <= wall or (sub.wire is not None and sub.wire.gone):
                sub.close()
            since = sub.sending_since
            if since is not None and now - since > send_timeout and sub.task is not None:
                sub.dropped = True
                sub.closed = True
                sub.task.cancel()

"""The comparison server for bench/fanout.py: the same app, hub and feed, plus one stream route
built the straightforward sse-starlette way (an EventSourceResponse per client, a generator
that waits on its subscriber, each event encoded per client). Used with --variant sse-starlette.

    python bench/fanout_sse_starlette.py PORT     (settings from ATUM_* variables)
"""

from __future__ import annotations

import sys

import uvicorn
import uvloop
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.routing import Route

from atum_metrics.auth import organization_for
from atum_metrics.runtime import runtime_of
from atum_metrics.server import create_app, raise_open_file_limit
from atum_metrics.settings import load_settings

PATH = "/api/v1/bench/sse-starlette"


async def stream(request: Request) -> EventSourceResponse:
    rt = runtime_of(request)
    org = organization_for(request)
    sub = rt.hub.subscribe(org)

    async def events():  # type: ignore[no-untyped-def]
        try:
            latest = await rt.feed.latest(org, warm=True)
            if latest is not None:
                yield ServerSentEvent(
                    data=latest.body.decode(), event="snapshot", id=str(latest.id)
                )
            while True:
                await sub.wait()
                if sub.closed:
                    return
                frame, sub.pending = sub.pending, None
                sub.ping = False
                if frame is not None:
                    yield ServerSentEvent(
                        data=frame.body.decode(), event="snapshot", id=str(frame.id)
                    )
        finally:
            rt.hub.unsubscribe(sub)

    return EventSourceResponse(events(), ping=15)


def main() -> None:
    raise_open_file_limit()
    app = create_app(load_settings())
    app.router.routes.append(Route(PATH, stream))
    config = uvicorn.Config(app, port=int(sys.argv[1]), log_level="warning", backlog=8192)
    uvloop.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()

"""The runtime: what the lifespan creates and the routes use, held on ``app.state``."""

from __future__ import annotations

import dataclasses

import asyncpg
from starlette.requests import HTTPConnection

from atum_metrics.feed import Feed
from atum_metrics.hub import Hub
from atum_metrics.listener import Listener
from atum_metrics.settings import Settings
from atum_metrics.telemetry import Telemetry


@dataclasses.dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    read_pool: asyncpg.Pool
    hub: Hub
    feed: Feed
    listener: Listener
    telemetry: Telemetry


def runtime_of(conn: HTTPConnection) -> Runtime:
    runtime: Runtime = conn.app.state.runtime
    return runtime

"""The runtime: what the lifespan creates and the routes use, held on ``app.state``."""

from __future__ import annotations

import dataclasses
import uuid

import asyncpg
from starlette.requests import HTTPConnection

from atum_metrics.auth import organization_for, tenant_of
from atum_metrics.errors import ApiError
from atum_metrics.feed import Feed
from atum_metrics.hub import Hub
from atum_metrics.listener import Listener
from atum_metrics.resources import load_sql
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
    # Organizations an admin token has asked for that exist (they are never re-checked).
    known_organizations: set[uuid.UUID] = dataclasses.field(default_factory=set)


def runtime_of(conn: HTTPConnection) -> Runtime:
    runtime: Runtime = conn.app.state.runtime
    return runtime


async def organization_in_scope(conn: HTTPConnection) -> uuid.UUID:
    """The organization the caller reads (its own, or any with admin scope); 404 when an
    admin names one that does not exist."""
    org = organization_for(conn)
    if org == tenant_of(conn).organization_id:
        return org
    rt = runtime_of(conn)
    if org not in rt.known_organizations:
        async with rt.pool.acquire() as db:
            if not await db.fetchval(load_sql("organization_exists"), org):
                raise ApiError(404, "not_found", "There is no organization with this id.")
        rt.known_organizations.add(org)
    return org

"""The LISTEN connection's loss: open streams stay open and get what they missed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from atum_metrics import demo
from atum_metrics.server import LISTEN_APP_NAME
from atum_metrics.settings import Settings
from atum_metrics.tokens import mint_token
from tests.live_server import ServerThread, open_stream, running_server
from tests.test_stream import cycle


@pytest.fixture
def server(settings: Settings) -> Iterator[ServerThread]:
    with running_server(settings.replace(sse_ping=60.0)) as running:
        yield running


async def _terminate_listener(conn: asyncpg.Connection) -> int:
    killed: int = await conn.fetchval(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = $1 AND datname = current_database()) t",
        LISTEN_APP_NAME,
    )
    return killed


async def _ready_status(base_url: str, wanted: int) -> None:
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            if (await client.get("/readyz")).status_code == wanted:
                return
    raise AssertionError(f"/readyz never answered {wanted}")


async def test_terminated_listen_backend_reconnects_and_the_open_stream_continues(
    server: ServerThread, conn: asyncpg.Connection, settings: Settings
) -> None:
    (org,) = await demo.create_organizations(conn, ["Alpha"], agents=2, tickets=10)
    token = mint_token(settings, org.id, admin=False, ttl=timedelta(hours=1))
    async with open_stream(server.base_url, token) as stream:
        first = await cycle(conn, settings)
        assert (await stream.next_event()).id == first[org.id]
        assert await _terminate_listener(conn) == 1
        during = await cycle(conn, settings)  # may be committed while the listener is away
        assert (await stream.next_event(seconds=20)).id == during[org.id]
        await _ready_status(server.base_url, 200)
        after = await cycle(conn, settings)
        assert (await stream.next_event()).id == after[org.id]
    assert server.telemetry.listener_reconnects._value.get() >= 1


async def test_while_postgres_refuses_connections_readyz_is_503_and_streams_stay_open(
    server: ServerThread, conn: asyncpg.Connection, settings: Settings, pg_server_url: str
) -> None:
    (org,) = await demo.create_organizations(conn, ["Alpha"], agents=2, tickets=10)
    token = mint_token(settings, org.id, admin=False, ttl=timedelta(hours=1))
    name = await conn.fetchval("SELECT current_database()")
    admin = await asyncpg.connect(pg_server_url)
    async with open_stream(server.base_url, token) as stream:
        first = await cycle(conn, settings)
        assert (await stream.next_event()).id == first[org.id]
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await _terminate_listener(conn)
            await _ready_status(server.base_url, 503)
            missed = await cycle(conn, settings)  # no announcement reaches the server
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        # The resync after reconnecting pushes what changed to the stream that stayed open.
        assert (await stream.next_event(seconds=20)).id == missed[org.id]
        await _ready_status(server.base_url, 200)

"""The SSE stream against a real uvicorn server, read over the network (CONTRACT 6)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import asyncpg
import httpx
import orjson
import pytest

from atum_metrics import demo
from atum_metrics.settings import Settings
from atum_metrics.snapshots import take_snapshots
from atum_metrics.tokens import mint_token
from tests.live_server import ServerThread, open_stream, running_server


def token(settings: Settings, org: uuid.UUID, *, ttl: float = 3600) -> str:
    return mint_token(settings, org, admin=False, ttl=timedelta(seconds=ttl))


async def cycle(conn: asyncpg.Connection, settings: Settings) -> dict[uuid.UUID, str]:
    """One worker cycle; each organization's new snapshot id."""
    done = await take_snapshots(conn, settings.metrics_window)
    rows = await conn.fetch(
        "SELECT organization_id, id FROM metrics_snapshots WHERE snapshot_ts = $1", done.snapshot_ts
    )
    return {r["organization_id"]: str(r["id"]) for r in rows}


@pytest.fixture
async def orgs(conn: asyncpg.Connection) -> list[demo.Organization]:
    return await demo.create_organizations(conn, ["Alpha", "Beta"], agents=3, tickets=30)


@pytest.fixture
def server(settings: Settings) -> Iterator[ServerThread]:
    with running_server(settings.replace(sse_ping=60.0)) as running:
        yield running


async def test_stream_sends_latest_then_each_new_snapshot(
    server: ServerThread,
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
) -> None:
    alpha = orgs[0].id
    first = await cycle(conn, settings)
    async with open_stream(server.base_url, token(settings, alpha)) as stream:
        response = stream.response
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"
        opening = await stream.next(seconds=10)
        assert opening.event == "snapshot" and opening.id == first[alpha]
        snapshot = orjson.loads(opening.data or "")
        assert snapshot["id"] == first[alpha] and snapshot["organization_id"] == str(alpha)
        for _ in range(2):
            ids = await cycle(conn, settings)
            event = await stream.next_event()
            assert event.id == ids[alpha]
            assert orjson.loads(event.data or "")["organization_id"] == str(alpha)


async def test_stream_begins_with_retry_and_nothing_before_the_first_snapshot(
    server: ServerThread,
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
) -> None:
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as client,
        client.stream(
            "GET",
            "/api/v1/metrics/stream",
            params={"access_token": token(settings, orgs[0].id)},
        ) as response,
    ):
        chunks = response.aiter_raw()
        assert await anext(chunks) == b"retry: 3000\n\n"
        ids = await cycle(conn, settings)
        received = b""
        async with asyncio.timeout(10):
            while b"\n\n" not in received:
                received += await anext(chunks)
        assert received.startswith(b"event: snapshot\nid: %s\ndata: {" % ids[orgs[0].id].encode())


async def test_last_event_id_replays_what_was_missed_from_memory_and_from_the_database(
    conn: asyncpg.Connection, settings: Settings, orgs: list[demo.Organization]
) -> None:
    alpha = orgs[0].id
    before = [(await cycle(conn, settings))[alpha] for _ in range(3)]  # before the server
    with running_server(settings.replace(sse_ping=60.0)) as server:
        after = [(await cycle(conn, settings))[alpha] for _ in range(3)]  # seen by the server
        await _wait_live(server, settings, alpha, after[-1])
        # From the database (the server never saw `before`), then from memory.
        for last, seen in [(before[0], before[1:]), (after[0], [])]:
            expected = seen + after[after.index(last) + 1 :] if last in after else seen + after
            async with open_stream(
                server.base_url, token(settings, alpha), headers={"Last-Event-ID": last}
            ) as stream:
                got = [(await stream.next_event()).id for _ in expected]
                assert got == expected
                fresh = await cycle(conn, settings)
                assert (await stream.next_event()).id == fresh[alpha]
                after.append(fresh[alpha])
        # Already up to date: nothing is replayed, the next snapshot comes live.
        async with open_stream(
            server.base_url, token(settings, alpha), params={"last_event_id": after[-1]}
        ) as stream:
            fresh = await cycle(conn, settings)
            event = await stream.next()
            assert (event.event, event.id) == ("snapshot", fresh[alpha])


async def _wait_live(
    server: ServerThread, settings: Settings, org: uuid.UUID, snapshot_id: str
) -> None:
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        while time.monotonic() < deadline:
            response = await client.get(
                "/api/v1/metrics/live", headers={"Authorization": f"Bearer {token(settings, org)}"}
            )
            if response.status_code == 200 and response.json()["id"] == snapshot_id:
                return
    raise AssertionError("the server never saw the snapshot")


@pytest.mark.parametrize("warm", [True, False], ids=["memory", "database"])
async def test_too_many_missed_or_unknown_id_resets(
    conn: asyncpg.Connection, settings: Settings, orgs: list[demo.Organization], warm: bool
) -> None:
    alpha, beta = orgs[0].id, orgs[1].id
    ids = [] if warm else [await cycle(conn, settings) for _ in range(5)]
    with running_server(settings.replace(sse_ping=60.0, sse_replay_max=2)) as server:
        if warm:
            ids = [await cycle(conn, settings) for _ in range(5)]
            await _wait_live(server, settings, alpha, ids[-1][alpha])
        cases = [
            (ids[0][alpha], {"missed": 4}),  # 4 missed, only 2 may be replayed
            (ids[0][beta], {"missed": None}),  # another organization's snapshot
            (str(uuid.uuid4()), {"missed": None}),
            ("not-an-id", {"missed": None}),
        ]
        for last, reset in cases:
            async with open_stream(
                server.base_url, token(settings, alpha), headers={"Last-Event-ID": last}
            ) as stream:
                first = await stream.next()
                assert first.event == "reset" and orjson.loads(first.data or "") == reset
                latest = await stream.next()
                assert (latest.event, latest.id) == ("snapshot", ids[-1][alpha])
                assert orjson.loads(latest.data or "")["organization_id"] == str(alpha)


async def test_heartbeats_arrive_every_ping_interval(
    settings: Settings, orgs: list[demo.Organization]
) -> None:
    with running_server(settings.replace(sse_ping=0.2)) as server:
        async with open_stream(server.base_url, token(settings, orgs[0].id)) as stream:
            pings = 0
            while pings < 3:
                block = await stream.next(seconds=5)
                pings += block.comments.count("ping")


async def test_stream_closes_when_its_token_expires(
    server: ServerThread, settings: Settings, orgs: list[demo.Organization]
) -> None:
    async with open_stream(server.base_url, token(settings, orgs[0].id, ttl=2)) as stream:
        started = time.monotonic()
        with pytest.raises(EOFError):
            await stream.next(seconds=10)
        assert time.monotonic() - started < 9  # ended by expiry, well before the read timeout


async def test_stream_is_isolated_per_tenant(
    server: ServerThread,
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
) -> None:
    alpha, beta = orgs[0].id, orgs[1].id
    async with open_stream(server.base_url, token(settings, alpha)) as stream:
        sent = [await cycle(conn, settings) for _ in range(3)]
        got = [await stream.next_event() for _ in sent]
    assert [e.id for e in got] == [ids[alpha] for ids in sent]
    assert {orjson.loads(e.data or "")["organization_id"] for e in got} == {str(alpha)}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get(
            "/api/v1/metrics/stream",
            params={"organization_id": str(beta)},
            headers={"Authorization": f"Bearer {token(settings, alpha)}"},
        )
    assert response.status_code == 403 and response.json()["error"] == "forbidden"


async def test_stream_cap_per_organization_is_429(
    settings: Settings, orgs: list[demo.Organization]
) -> None:
    with running_server(settings.replace(sse_ping=60.0, sse_max_per_org=2)) as server:
        alpha = token(settings, orgs[0].id)
        async with (
            open_stream(server.base_url, alpha),
            open_stream(server.base_url, alpha),
            httpx.AsyncClient(base_url=server.base_url) as client,
        ):
            refused = await client.get(
                "/api/v1/metrics/stream", headers={"Authorization": f"Bearer {alpha}"}
            )
            async with open_stream(server.base_url, token(settings, orgs[1].id)) as stream:
                assert stream.response.status_code == 200
        assert refused.status_code == 429 and refused.json()["error"] == "too_many_streams"
        # Closed streams free their places (a departed client is noticed within a second).
        deadline = time.monotonic() + 5
        status = 0
        while status != 200 and time.monotonic() < deadline:
            async with open_stream(server.base_url, alpha) as stream:
                status = stream.response.status_code
        assert status == 200


async def test_shutdown_closes_open_streams_quickly(
    settings: Settings, orgs: list[demo.Organization]
) -> None:
    with running_server(settings.replace(sse_ping=60.0)) as server:
        async with (
            open_stream(server.base_url, token(settings, orgs[0].id)) as one,
            open_stream(server.base_url, token(settings, orgs[1].id)) as two,
        ):
            await asyncio.sleep(0)  # both streams are open (their headers arrived)
            seconds = await asyncio.to_thread(server.stop)
            for stream in (one, two):
                with pytest.raises(EOFError):
                    await stream.next(seconds=5)
    assert seconds < 5


async def test_a_client_that_stops_reading_is_dropped_and_others_keep_up(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    # Large frames (an agent_load of 3,000 agents) fill the socket buffers in a few cycles.
    (big,) = await demo.create_organizations(conn, ["Big"], agents=3000, tickets=0)
    with running_server(settings.replace(sse_ping=60.0, sse_send_timeout=1.0)) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        _reader, writer = await _stalled_client(host, int(port), token(settings, big.id))
        received: list[str] = []
        async with open_stream(server.base_url, token(settings, big.id)) as healthy:
            arrived = asyncio.Event()

            async def drain() -> None:
                while True:
                    received.append((await healthy.next_event(seconds=60)).id or "")
                    arrived.set()

            draining = asyncio.create_task(drain())
            samples = server.telemetry.registry
            deadline = time.monotonic() + 60
            last: dict[uuid.UUID, str] = {}
            while not samples.get_sample_value("atum_sse_streams_dropped_total"):
                assert time.monotonic() < deadline, "the stalled client was never dropped"
                last = await cycle(conn, settings)
            async with asyncio.timeout(10):
                while not received or received[-1] != last[big.id]:
                    arrived.clear()
                    await arrived.wait()
            draining.cancel()
            assert samples.get_sample_value("atum_sse_streams_open") == 1  # the healthy one
        writer.close()


async def _stalled_client(
    host: str, port: int, bearer: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream client with a tiny receive buffer that reads the headers and then nothing."""
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    request = (
        f"GET /api/v1/metrics/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {bearer}\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    return reader, writer

"""Every committed snapshot insert announces itself on channel metrics_snapshots."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from atum_metrics.snapshots import take_snapshots
from tests import factories as f


@pytest.fixture
async def announcements(database_url: str) -> AsyncIterator[asyncio.Queue[str]]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    await listener.add_listener("metrics_snapshots", lambda *args: queue.put_nowait(args[3]))
    yield queue
    await listener.close()


async def drain_after_marker(conn: asyncpg.Connection, queue: asyncio.Queue[str]) -> list[str]:
    """All announcements before a marker NOTIFY sent after them (delivery is in commit order)."""
    await conn.execute("SELECT pg_notify('metrics_snapshots', 'marker')")
    received = []
    while (payload := await asyncio.wait_for(queue.get(), timeout=5)) != "marker":
        received.append(payload)
    return received


async def test_each_snapshot_of_a_cycle_is_announced_with_its_keys(
    conn: asyncpg.Connection, announcements: asyncio.Queue[str]
) -> None:
    orgs = {await f.organization(conn, f"O{i}") for i in range(3)}
    at = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    await take_snapshots(conn, timedelta(hours=24), at=at)
    payloads = [json.loads(p) for p in await drain_after_marker(conn, announcements)]
    rows = await conn.fetch("SELECT id, organization_id FROM metrics_snapshots")
    assert sorted(p["id"] for p in payloads) == sorted(str(r["id"]) for r in rows)
    assert {p["organization_id"] for p in payloads} == {str(o) for o in orgs}
    assert {p["snapshot_ts"] for p in payloads} == {"2026-06-01T12:00:00.123456Z"}
    assert all(set(p) == {"organization_id", "id", "snapshot_ts"} for p in payloads)


async def test_a_hand_inserted_snapshot_announces_itself(
    conn: asyncpg.Connection, announcements: asyncio.Queue[str]
) -> None:
    org = await f.organization(conn)
    snapshot_id = await conn.fetchval(
        "INSERT INTO metrics_snapshots (organization_id, snapshot_ts, tickets_by_status,"
        " tickets_by_priority, agent_load) VALUES ($1, now(), '{}', '{}', '{}') RETURNING id",
        org,
    )
    payloads = [json.loads(p) for p in await drain_after_marker(conn, announcements)]
    assert [p["id"] for p in payloads] == [str(snapshot_id)]


async def test_a_rolled_back_insert_announces_nothing(
    conn: asyncpg.Connection, announcements: asyncio.Queue[str]
) -> None:
    await f.organization(conn)
    tx = conn.transaction()
    await tx.start()
    await take_snapshots(conn, timedelta(hours=24))
    inside = await conn.fetchval("SELECT count(*) FROM metrics_snapshots")
    await tx.rollback()
    assert inside == 1  # the insert did happen inside the transaction
    assert await drain_after_marker(conn, announcements) == []
    assert await conn.fetchval("SELECT count(*) FROM metrics_snapshots") == 0


async def test_snapshots_outside_the_daily_partitions_land_in_the_default_one(
    conn: asyncpg.Connection,
) -> None:
    await f.organization(conn)
    far = datetime(2031, 1, 1, tzinfo=UTC)
    await take_snapshots(conn, timedelta(hours=24), at=far)
    assert await conn.fetchval("SELECT count(*) FROM metrics_snapshots_default") == 1
    # Creating that day's partition later moves the row out of the default partition.
    assert await conn.fetchval("SELECT atum_ensure_partitions('2031-01-01'::date, 1)") == 1
    assert await conn.fetchval("SELECT count(*) FROM metrics_snapshots_default") == 0
    assert await conn.fetchval("SELECT count(*) FROM metrics_snapshots_p20310101") == 1

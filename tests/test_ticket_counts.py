"""Counts by status are kept incrementally (sql/migrations/0004); they must always equal a
full count of the tickets, whatever the writes, folded or not."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from atum_metrics.demo import create_organizations
from atum_metrics.resources import load_sql
from atum_metrics.snapshots import take_snapshots

STATUSES = ("open", "pending", "resolved", "closed")


async def full_counts(conn: asyncpg.Connection) -> dict[uuid.UUID, dict[str, int]]:
    counts = {org: dict.fromkeys(STATUSES, 0) for org in await org_ids(conn)}
    for r in await conn.fetch(
        "SELECT organization_id, status, count(*) FROM tickets GROUP BY 1, 2"
    ):
        counts[r["organization_id"]][r["status"]] = r["count"]
    return counts


async def org_ids(conn: asyncpg.Connection) -> list[uuid.UUID]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM organizations")]


async def snapshot_counts(conn: asyncpg.Connection) -> dict[uuid.UUID, dict[str, int]]:
    cycle = await take_snapshots(conn, timedelta(hours=24))
    rows = await conn.fetch(
        "SELECT organization_id, tickets_by_status::text AS s FROM metrics_snapshots"
        " WHERE snapshot_ts = $1",
        cycle.snapshot_ts,
    )
    return {r["organization_id"]: json.loads(r["s"]) for r in rows}


async def test_kept_counts_follow_every_kind_of_write(conn: asyncpg.Connection) -> None:
    now = datetime.now(UTC)
    a, b, c = await create_organizations(conn, ["A", "B", "C"], tickets=300, days=10, now=now)
    assert await snapshot_counts(conn) == await full_counts(conn)

    # Status changes, a no-op update, a move between organizations, deletes, an insert.
    await conn.execute(
        "UPDATE tickets SET status = 'closed' WHERE organization_id = $1 AND status = 'open'", a.id
    )
    await conn.execute("UPDATE tickets SET updated_at = now() WHERE organization_id = $1", b.id)
    await conn.execute(
        "UPDATE tickets SET organization_id = $1, assignee_id = NULL"
        " WHERE id IN (SELECT id FROM tickets WHERE organization_id = $2 LIMIT 7)",
        c.id,
        b.id,
    )
    await conn.execute(
        "DELETE FROM tickets WHERE organization_id = $1 AND status = 'resolved'", c.id
    )
    await conn.execute(
        "INSERT INTO tickets (organization_id, status, priority) VALUES ($1, 'pending', 'low')",
        a.id,
    )
    # Some deltas are still unfolded when the cycle reads them.
    assert await conn.fetchval("SELECT count(*) FROM ticket_status_deltas") > 0
    assert await snapshot_counts(conn) == await full_counts(conn)
    assert await conn.fetchval("SELECT count(*) FROM ticket_status_deltas") == 0

    # A truncate resets everything.
    await conn.execute("TRUNCATE tickets")
    counts = await snapshot_counts(conn)
    assert counts == await full_counts(conn)
    assert all(v == dict.fromkeys(STATUSES, 0) for v in counts.values())


async def test_a_rolled_back_write_does_not_change_the_counts(conn: asyncpg.Connection) -> None:
    (org,) = await create_organizations(conn, ["A"], tickets=50, days=5)
    before = await snapshot_counts(conn)
    tx = conn.transaction()
    await tx.start()
    await conn.execute("UPDATE tickets SET status = 'closed' WHERE organization_id = $1", org.id)
    await conn.execute(load_sql("fold_ticket_counts"))
    await tx.rollback()
    assert await snapshot_counts(conn) == before == await full_counts(conn)

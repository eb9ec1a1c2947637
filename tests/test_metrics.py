"""Each metric of docs/contract.md section 4 on hand-made tickets, edge cases included."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from atum_metrics.snapshots import take_snapshots
from tests import factories as f
from tests.factories import percentile_cont

T = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
W = timedelta(hours=24)
T0 = T - W
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


async def snapshot_of(conn: asyncpg.Connection, org: uuid.UUID) -> dict[str, Any]:
    await take_snapshots(conn, W, at=T)
    row = await conn.fetchrow(
        "SELECT * FROM metrics_snapshots WHERE organization_id = $1 AND snapshot_ts = $2", org, T
    )
    assert row is not None
    snap = dict(row)
    for key in ("tickets_by_status", "tickets_by_priority", "agent_load"):
        snap[key] = json.loads(snap[key])
    return snap


async def test_organization_without_tickets_or_agents_has_zeros_and_nulls(
    conn: asyncpg.Connection,
) -> None:
    org = await f.organization(conn)
    snap = await snapshot_of(conn, org)
    assert snap["tickets_by_status"] == {"open": 0, "pending": 0, "resolved": 0, "closed": 0}
    assert snap["tickets_by_priority"] == {"low": 0, "medium": 0, "high": 0, "urgent": 0}
    for key in ("frt_p50", "frt_p95", "mttr_p50", "mttr_p95", "sla_compliance_pct"):
        assert snap[key] is None, key
    assert snap["agent_load"] == {}
    assert snap["snapshot_ts"] == T


async def test_counts_by_status_and_open_work_by_priority(conn: asyncpg.Connection) -> None:
    org = await f.organization(conn)
    day_ago = T - timedelta(days=3)
    for status, priority in [
        ("open", "urgent"),
        ("open", "low"),
        ("pending", "urgent"),
        ("resolved", "high"),
        ("closed", "high"),
        ("closed", "low"),
    ]:
        await f.ticket(conn, org, created_at=day_ago, status=status, priority=priority)
    snap = await snapshot_of(conn, org)
    assert snap["tickets_by_status"] == {"open": 2, "pending": 1, "resolved": 1, "closed": 2}
    # Only open + pending work counts by priority.
    assert snap["tickets_by_priority"] == {"low": 1, "medium": 0, "high": 0, "urgent": 2}


async def test_first_response_percentiles_over_the_window_edges(conn: asyncpg.Connection) -> None:
    org = await f.organization(conn)
    inside = [  # (created, first response)
        (T - 2 * W, T0 + SEC),  # just inside: the window is (T - W, T]
        (T - timedelta(hours=3), T - timedelta(hours=2)),
        (T - timedelta(hours=1), T - timedelta(minutes=50)),
        (T - timedelta(minutes=30), T),  # exactly T is inside
    ]
    outside = [(T - 2 * W, T0), (T - timedelta(hours=1), T + SEC)]
    for created, responded in inside + outside:
        await f.ticket(conn, org, created_at=created, first_response_at=responded)
    await f.ticket(conn, org, created_at=T - MIN)  # no response yet: not measured
    minutes = [(r - c).total_seconds() / 60 for c, r in inside]
    snap = await snapshot_of(conn, org)
    assert snap["frt_p50"] == pytest.approx(percentile_cont(minutes, 0.5))
    assert snap["frt_p95"] == pytest.approx(percentile_cont(minutes, 0.95))


async def test_resolution_percentiles_ignore_reopened_and_use_closed_at(
    conn: asyncpg.Connection,
) -> None:
    org = await f.organization(conn)
    created = T - timedelta(hours=30)
    resolved = T - timedelta(hours=6)
    await f.ticket(conn, org, created_at=created, status="resolved", resolved_at=resolved)
    # Closed without resolved_at: resolution time is closed_at.
    await f.ticket(conn, org, created_at=created, status="closed", closed_at=T - timedelta(hours=1))
    # Reopened: still carries an old resolved_at in the window, but has no resolution time.
    await f.ticket(conn, org, created_at=created, status="open", resolved_at=T - timedelta(hours=2))
    # Resolved before the window: outside.
    await f.ticket(conn, org, created_at=T - 3 * W, status="closed", resolved_at=T0 - SEC)
    minutes = [24 * 60.0, 29 * 60.0]
    snap = await snapshot_of(conn, org)
    assert snap["mttr_p50"] == pytest.approx(percentile_cont(minutes, 0.5))
    assert snap["mttr_p95"] == pytest.approx(percentile_cont(minutes, 0.95))
    assert snap["tickets_by_status"]["open"] == 1


async def test_sla_compliance_decides_targets_at_completion_or_due_time(
    conn: asyncpg.Connection,
) -> None:
    org = await f.organization(conn)
    c = T - timedelta(hours=20)
    # Achieved first response, decided at completion in the window.
    await f.ticket(
        conn, org, created_at=c, first_response_at=c + MIN, first_response_due_at=c + 60 * MIN
    )
    # Achieved exactly at due: still achieved.
    await f.ticket(
        conn, org, created_at=c, first_response_at=c + 60 * MIN, first_response_due_at=c + 60 * MIN
    )
    # Breached first response: answered late, decided at the due time (in the window).
    await f.ticket(
        conn, org, created_at=c, first_response_at=c + 90 * MIN, first_response_due_at=c + 60 * MIN
    )
    # Breached while still incomplete: no response, due passed before T.
    await f.ticket(conn, org, created_at=c, first_response_due_at=T - MIN)
    # Not decided yet: no response, due after T.
    await f.ticket(conn, org, created_at=c, first_response_due_at=T + MIN)
    # Reopened ticket with a passed resolution due: breached (its old resolved_at does not count).
    await f.ticket(
        conn,
        org,
        created_at=c,
        status="pending",
        resolved_at=c + MIN,
        resolution_due_at=c + 60 * MIN,
    )
    # Resolved on time, with the due after T: achieved, decided at completion.
    await f.ticket(
        conn, org, created_at=c, status="resolved", resolved_at=T - MIN, resolution_due_at=T + W
    )
    # Late answer whose due fell before the window: decided then, so outside.
    old = T - 3 * W
    await f.ticket(
        conn, org, created_at=old, first_response_at=T - MIN, first_response_due_at=old + MIN
    )
    # Achieved before the window: outside.
    await f.ticket(
        conn, org, created_at=old, first_response_at=old + MIN, first_response_due_at=old + W
    )
    # No due times at all: no target.
    await f.ticket(conn, org, created_at=c, status="resolved", resolved_at=T - MIN)
    achieved, breached = 3, 3
    snap = await snapshot_of(conn, org)
    assert snap["sla_compliance_pct"] == pytest.approx(100 * achieved / (achieved + breached))


async def test_sla_is_null_when_nothing_was_decided(conn: asyncpg.Connection) -> None:
    org = await f.organization(conn)
    await f.ticket(conn, org, created_at=T - MIN, first_response_due_at=T + 60 * MIN)
    snap = await snapshot_of(conn, org)
    assert snap["sla_compliance_pct"] is None


async def test_agent_load_lists_active_agents_and_inactive_ones_still_holding_work(
    conn: asyncpg.Connection,
) -> None:
    org = await f.organization(conn)
    busy = await f.agent(conn, org, "busy")
    await f.agent(conn, org, "idle")
    gone = await f.agent(conn, org, "gone", active=False)
    left = await f.agent(conn, org, "left", active=False)
    c = T - timedelta(hours=2)
    await f.ticket(conn, org, created_at=c, status="open", assignee=busy)
    await f.ticket(conn, org, created_at=c, status="pending", assignee=busy)
    await f.ticket(conn, org, created_at=c, status="resolved", assignee=busy, resolved_at=T)
    await f.ticket(conn, org, created_at=c, status="open", assignee=gone)
    await f.ticket(conn, org, created_at=c, status="closed", assignee=left, closed_at=T)
    await f.ticket(conn, org, created_at=c, status="open")  # unassigned
    snap = await snapshot_of(conn, org)
    assert snap["agent_load"] == {"busy": 2, "idle": 0, "gone": 1}


async def test_one_cycle_covers_every_organization_with_one_timestamp(
    conn: asyncpg.Connection,
) -> None:
    a = await f.organization(conn, "A")
    b = await f.organization(conn, "B")
    agent_b = await f.agent(conn, b, "bee")
    await f.ticket(conn, a, created_at=T - MIN, status="open", priority="high")
    await f.ticket(conn, b, created_at=T - MIN, status="pending", assignee=agent_b)
    cycle = await take_snapshots(conn, W, at=T)
    assert cycle.organizations == 2
    rows = await conn.fetch(
        "SELECT organization_id, snapshot_ts, tickets_by_status::text AS s, agent_load::text AS l"
        " FROM metrics_snapshots"
    )
    by_org = {r["organization_id"]: r for r in rows}
    assert set(by_org) == {a, b}
    assert {r["snapshot_ts"] for r in rows} == {T}
    assert json.loads(by_org[a]["s"])["open"] == 1 and json.loads(by_org[a]["s"])["pending"] == 0
    assert json.loads(by_org[b]["s"])["pending"] == 1
    assert json.loads(by_org[a]["l"]) == {}
    assert json.loads(by_org[b]["l"]) == {"bee": 1}

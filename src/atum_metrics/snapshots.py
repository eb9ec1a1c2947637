"""The snapshot statement: every organization's metrics at one time T, in one INSERT."""

from __future__ import annotations

import dataclasses
import time
from datetime import date, datetime, timedelta

import asyncpg

from atum_metrics.resources import load_sql

PARTITION_DAYS_AHEAD = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Cycle:
    """What one cycle wrote."""

    snapshot_ts: datetime
    organizations: int


async def take_snapshots(
    conn: asyncpg.Connection, window: timedelta, at: datetime | None = None
) -> Cycle:
    """Insert one snapshot per organization at ``at`` (default: the transaction's now())."""
    started = time.perf_counter()
    async with conn.transaction():
        ts: datetime = at if at is not None else await conn.fetchval("SELECT now()")
        await conn.execute(load_sql("fold_ticket_counts"))
        rows = await conn.fetch(load_sql("snapshot_cycle"), ts, window)
        elapsed_ms = (time.perf_counter() - started) * 1000
        await conn.execute(load_sql("record_cycle"), ts, len(rows), elapsed_ms)
    return Cycle(snapshot_ts=ts, organizations=len(rows))


async def ensure_partitions(conn: asyncpg.Connection, today: date) -> int:
    """Create the daily partitions from yesterday to ``PARTITION_DAYS_AHEAD`` days ahead."""
    created: int = await conn.fetchval(
        "SELECT atum_ensure_partitions($1, $2)",
        today - timedelta(days=1),
        PARTITION_DAYS_AHEAD + 2,
    )
    return created

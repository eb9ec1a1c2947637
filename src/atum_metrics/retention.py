"""Retention: drop snapshot days older than ``ATUM_RETENTION_DAYS``, but never an unexported one.

A day is retired (its partition dropped, its stray rows deleted from the default partition)
only when ``metrics_<day>.parquet`` exists in the export folder and holds exactly as many rows
as Postgres does for that day; otherwise the day is kept and a warning logged, every day, until
someone exports it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import duckdb

from atum_metrics.database import connect, primary_url
from atum_metrics.exporter import day_bounds, export_path, parquet_row_count
from atum_metrics.resources import load_sql
from atum_metrics.settings import Settings
from atum_metrics.snapshots import ensure_partitions

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE = 0, 1
# Retention must not stall the worker's cycles behind a long-running reader of an old day.
LOCK_TIMEOUT = "5s"


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What retention did with one old day."""

    day: date
    dropped: bool
    reason: str


def cutoff_day(settings: Settings, today: date) -> date:
    """The oldest day kept: days before it are retired (with 30, today and 30 days back stay)."""
    return today - timedelta(days=settings.retention_days)


async def apply_retention(
    conn: asyncpg.Connection, settings: Settings, today: date
) -> list[Outcome]:
    """Retire every exported day before the cutoff, oldest first; keep and warn about the rest."""
    rows = await conn.fetch(load_sql("retention_days"), cutoff_day(settings, today))
    outcomes = []
    for row in rows:
        outcome = await retire_day(conn, settings.exports, row["day"], row["partition"])
        if not outcome.dropped:
            logger.warning("keeping snapshots of %s: %s", outcome.day, outcome.reason)
        outcomes.append(outcome)
    return outcomes


def _exported_rows(path: Path) -> int | None:
    return parquet_row_count(path) if path.is_file() else None


async def retire_day(
    conn: asyncpg.Connection, exports: Path, day: date, partition: str | None
) -> Outcome:
    """Drop one day from Postgres if, and only if, its export matches it row for row."""
    path = export_path(exports, day)
    try:
        exported = await asyncio.to_thread(_exported_rows, path)
    except (OSError, duckdb.Error) as exc:
        return Outcome(day, False, f"cannot read {path}: {_one_line(exc)}")
    if exported is None:
        return Outcome(
            day, False, f"not exported (no {path}); run `atum-metrics export --date {day}`"
        )
    bounds = day_bounds(day)
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            await conn.execute(await conn.fetchval(load_sql("retention_lock"), partition))
            count: int = await conn.fetchval(load_sql("count_day"), *bounds)
            if count != exported:
                return Outcome(
                    day, False, f"{path.name} has {exported} rows but Postgres has {count}"
                )
            await conn.execute(load_sql("retention_delete_default"), *bounds)
            if partition is not None:
                await conn.execute(await conn.fetchval(load_sql("retention_drop"), partition))
    except asyncpg.PostgresError as exc:  # a lock timeout or deadlock: try again tomorrow
        return Outcome(day, False, f"could not retire it now: {_one_line(exc)}")
    logger.info("dropped %d snapshots of %s from Postgres (exported to %s)", count, day, path)
    return Outcome(day, True, f"{count} rows exported to {path.name}")


def daily_hook(settings: Settings) -> Callable[[asyncpg.Connection, date], Awaitable[None]]:
    """The worker's once-a-day hook: apply retention on the leader's connection."""

    async def hook(conn: asyncpg.Connection, today: date) -> None:
        await apply_retention(conn, settings, today)

    return hook


async def _maintain(settings: Settings, today: date) -> tuple[int, list[Outcome]]:
    conn = await connect(primary_url(settings), application_name="atum-maintain")
    try:
        created = await ensure_partitions(conn, today)
        return created, await apply_retention(conn, settings, today)
    finally:
        await conn.close()


def main(settings: Settings) -> int:
    """``atum-metrics maintain``: partitions ahead, then retention; 1 if the database fails."""
    try:
        created, outcomes = asyncio.run(_maintain(settings, datetime.now(UTC).date()))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        print(f"atum-metrics: maintain failed: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    dropped = [o for o in outcomes if o.dropped]
    print(
        f"created {created} partition(s); dropped {len(dropped)} exported day(s);"
        f" kept {len(outcomes) - len(dropped)} old day(s)"
    )
    for outcome in outcomes:
        print(f"{outcome.day}  {'dropped' if outcome.dropped else 'kept'}  {outcome.reason}")
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__

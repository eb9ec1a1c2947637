"""Retention never drops an unexported or mismatched day, and does drop an exported one."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from atum_metrics import exporter, retention
from atum_metrics.demo import create_organizations
from atum_metrics.settings import Settings
from atum_metrics.snapshots import PARTITION_DAYS_AHEAD, take_snapshots
from atum_metrics.worker import Worker

TODAY = date(2026, 6, 30)
WINDOW = timedelta(hours=24)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


async def count_day(conn: asyncpg.Connection, day: date) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM metrics_snapshots WHERE snapshot_ts >= $1 AND snapshot_ts < $2",
        *exporter.day_bounds(day),
    )
    return count


async def has_partition(conn: asyncpg.Connection, day: date) -> bool:
    name = f"metrics_snapshots_p{day:%Y%m%d}"
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def snapshot(conn: asyncpg.Connection, day: date, times: int = 1) -> None:
    for i in range(times):
        await take_snapshots(conn, WINDOW, at=noon(day) + timedelta(minutes=i))


@pytest.fixture
async def old_days(conn: asyncpg.Connection, settings: Settings) -> dict[str, date]:
    """Old days in every state retention must tell apart (2 organizations each)."""
    days = {
        "exported": days_ago(40),
        "unexported": days_ago(39),
        "mismatched": days_ago(38),
        "default_exported": days_ago(45),  # no partition: the rows sit in the default one
        "default_unexported": days_ago(44),
        "recent": days_ago(settings.retention_days),  # exported but still within retention
    }
    await create_organizations(conn, ["Keep A", "Keep B"], tickets=20, now=noon(TODAY))
    for key in ("exported", "unexported", "mismatched", "recent"):
        await conn.execute("SELECT atum_ensure_partitions($1, 1)", days[key])
    for day in days.values():
        await snapshot(conn, day, times=2)
    for key in ("exported", "mismatched", "default_exported", "recent"):
        await exporter.export_day(settings, days[key], settings.exports)
    # A row that arrived after the export: the file no longer matches Postgres.
    await snapshot(conn, days["mismatched"])
    return days


async def test_drops_exported_days_and_keeps_the_rest(
    conn: asyncpg.Connection,
    settings: Settings,
    old_days: dict[str, date],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = {key: await count_day(conn, day) for key, day in old_days.items()}
    assert before == {key: 4 for key in old_days} | {"mismatched": 6}

    with caplog.at_level(logging.WARNING, logger="atum_metrics.retention"):
        outcomes = await retention.apply_retention(conn, settings, TODAY)

    dropped = {o.day for o in outcomes if o.dropped}
    assert dropped == {old_days["exported"], old_days["default_exported"]}
    after = {key: await count_day(conn, day) for key, day in old_days.items()}
    assert after == before | {"exported": 0, "default_exported": 0}
    assert not await has_partition(conn, old_days["exported"])
    assert await has_partition(conn, old_days["unexported"])
    assert await has_partition(conn, old_days["mismatched"])
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert f"keeping snapshots of {old_days['unexported']}: not exported" in warned
    assert f"keeping snapshots of {old_days['default_unexported']}: not exported" in warned
    assert f"keeping snapshots of {old_days['mismatched']}" in warned and "has 4 rows" in warned
    assert str(old_days["recent"]) not in warned


async def test_second_run_keeps_what_is_left(
    conn: asyncpg.Connection, settings: Settings, old_days: dict[str, date]
) -> None:
    await retention.apply_retention(conn, settings, TODAY)
    again = await retention.apply_retention(conn, settings, TODAY)
    assert {o.day: o.dropped for o in again} == {
        old_days["default_unexported"]: False,
        old_days["unexported"]: False,
        old_days["mismatched"]: False,
    }


async def test_re_export_of_a_mismatched_day_lets_it_go(
    conn: asyncpg.Connection, settings: Settings, old_days: dict[str, date]
) -> None:
    await exporter.export_day(settings, old_days["mismatched"], settings.exports)
    outcomes = await retention.apply_retention(conn, settings, TODAY)
    assert old_days["mismatched"] in {o.day for o in outcomes if o.dropped}
    assert await count_day(conn, old_days["mismatched"]) == 0


async def test_unreadable_export_keeps_the_day(
    conn: asyncpg.Connection, settings: Settings, old_days: dict[str, date]
) -> None:
    path = exporter.export_path(settings.exports, old_days["exported"])
    path.write_bytes(b"not parquet")
    outcomes = {o.day: o for o in await retention.apply_retention(conn, settings, TODAY)}
    kept = outcomes[old_days["exported"]]
    assert not kept.dropped and "cannot read" in kept.reason
    assert await count_day(conn, old_days["exported"]) == 4


async def test_daily_hook_never_raises_without_exports(
    conn: asyncpg.Connection, settings: Settings, old_days: dict[str, date]
) -> None:
    hook = retention.daily_hook(settings.replace(export_dir=settings.data_dir / "nowhere"))
    await hook(conn, TODAY)
    for day in old_days.values():
        assert await count_day(conn, day) == 4 or day == old_days["mismatched"]


def test_maintain_creates_partitions_ahead(settings: Settings) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "atum_metrics",
            "--database-url",
            str(settings.database_url),
            "maintain",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"ATUM_EXPORT_DIR": str(settings.exports), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "dropped 0 exported day(s)" in done.stdout

    async def check() -> list[bool]:
        conn = await asyncpg.connect(str(settings.database_url))
        try:
            today = datetime.now(UTC).date()
            return [
                await has_partition(conn, today + timedelta(days=n))
                for n in range(PARTITION_DAYS_AHEAD + 1)
            ]
        finally:
            await conn.close()

    assert asyncio.run(check()) == [True] * (PARTITION_DAYS_AHEAD + 1)


async def test_worker_runs_retention_once_a_day(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    today = datetime.now(UTC).date()
    old = today - timedelta(days=settings.retention_days + 5)
    await create_organizations(conn, ["Worker A"], tickets=10, now=noon(old))
    await conn.execute("SELECT atum_ensure_partitions($1, 1)", old)
    await snapshot(conn, old, times=3)
    await exporter.export_day(settings, old, settings.exports)

    worker = Worker(settings, daily=retention.daily_hook(settings))
    cycle = await worker.run_once()

    assert cycle.organizations == 1
    assert not await has_partition(conn, old)
    assert await count_day(conn, old) == 0
    assert exporter.parquet_row_count(exporter.export_path(settings.exports, old)) == 3

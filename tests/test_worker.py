"""The worker: cycles on its interval, survives a database restart, and one of two leads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from atum_metrics import migrations
from atum_metrics.embedded import PgServerCluster
from atum_metrics.settings import Settings
from atum_metrics.snapshots import Cycle
from atum_metrics.worker import Worker
from tests import factories as f

DEADLINE = 30.0


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for ``check`` to hold, polling, or fail after DEADLINE seconds."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE
    while not await check():
        if loop.time() > give_up:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        value: int = await conn.fetchval(sql)
        return value
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_the_worker_survives_the_database_restarting(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    cluster = PgServerCluster(pgdata, keep_running=False)
    url = cluster.url()
    try:
        conn = await asyncpg.connect(url)
        await migrations.migrate(conn)
        await f.organization(conn)
        await conn.close()
        cycles = "SELECT count(*) FROM metrics_cycles"
        settings = Settings(database_url=url, data_dir=tmp_path, snapshot_interval=0.3)
        worker = Worker(settings)
        async with running(worker):
            await until(lambda: _at_least(url, cycles, 2), "cycles before the restart")
            cluster.stop()
            await until(lambda: _true(not worker.leading), "the worker to notice the loss")
            cluster = PgServerCluster(pgdata, keep_running=False)
            before = await count(url, cycles)
            await until(lambda: _at_least(url, cycles, before + 2), "cycles after the restart")
        snapshots = await count(url, "SELECT count(*) FROM metrics_snapshots")
        assert snapshots == await count(url, cycles)
    finally:
        cluster.stop()


async def _at_least(url: str, sql: str, n: int) -> bool:
    try:
        return await count(url, sql) >= n
    except (OSError, asyncpg.PostgresError):
        return False


async def test_two_workers_make_one_snapshot_per_organization_per_cycle(
    settings: Settings, database_url: str, conn: asyncpg.Connection
) -> None:
    for i in range(3):
        await f.organization(conn, f"O{i}")
    settings = settings.replace(snapshot_interval=0.4)
    ran: dict[str, list[Cycle]] = {"w1": [], "w2": []}
    first = Worker(settings, name="w1", on_cycle=lambda c, _s: ran["w1"].append(c))
    second = Worker(settings, name="w2", on_cycle=lambda c, _s: ran["w2"].append(c))
    stop = asyncio.Event()  # one event for both: neither outlives the other and takes over
    tasks = [asyncio.create_task(w.run(stop)) for w in (first, second)]
    try:
        cycles = "SELECT count(*) FROM metrics_cycles"
        await until(lambda: _at_least(database_url, cycles, 4), "four cycles")
        assert [first.leading, second.leading].count(True) == 1
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    rows = await conn.fetch(
        "SELECT snapshot_ts, count(*) AS n FROM metrics_snapshots GROUP BY 1 ORDER BY 1"
    )
    # Every cycle came from the one leader; the standby never ran one.
    assert sorted(len(v) for v in ran.values()) == [0, len(rows)]
    assert len(rows) >= 4
    assert {r["n"] for r in rows} == {3}


async def test_the_standby_takes_over_when_the_leader_dies(
    settings: Settings, database_url: str, conn: asyncpg.Connection
) -> None:
    await f.organization(conn)
    settings = settings.replace(snapshot_interval=0.4)
    first, second = Worker(settings, name="w1"), Worker(settings, name="w2")
    stop_first = asyncio.Event()
    first_task = asyncio.create_task(first.run(stop_first))
    await until(lambda: _true(first.leading), "the first worker to lead")
    async with running(second):
        await until(
            lambda: _at_least(database_url, "SELECT count(*) FROM metrics_cycles", 1), "a cycle"
        )
        assert not second.leading
        first_task.cancel()  # the leader dies without a clean stop
        with contextlib.suppress(asyncio.CancelledError):
            await first_task
        before = await count(database_url, "SELECT count(*) FROM metrics_cycles")
        await until(lambda: _true(second.leading), "the standby to take the lead")
        await until(
            lambda: _at_least(database_url, "SELECT count(*) FROM metrics_cycles", before + 2),
            "cycles under the new leader",
        )


async def _true(value: bool) -> bool:
    return value


async def test_run_once_inserts_one_cycle(settings: Settings, conn: asyncpg.Connection) -> None:
    await f.organization(conn, "A")
    await f.organization(conn, "B")
    cycle = await Worker(settings).run_once()
    assert cycle.organizations == 2
    assert await conn.fetchval("SELECT count(*) FROM metrics_snapshots") == 2

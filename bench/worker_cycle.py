"""Time one worker cycle (every organization in one set-based statement) against the seed's
per-organization loop, on 1,000 organizations with 1,000,000 tickets over 90 days.

    python bench/worker_cycle.py                       # embedded Postgres in a temp dir
    python bench/worker_cycle.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

With --database-url a scratch database ``atum_bench_<random>`` is created there and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from atum_metrics import migrations
from atum_metrics.database import session_settings
from atum_metrics.demo import create_organizations
from atum_metrics.embedded import PgServerCluster
from atum_metrics.snapshots import take_snapshots

WINDOW = timedelta(hours=24)
PER_ORG_SQL = (Path(__file__).parent / "sql" / "snapshot_one_org.sql").read_text()
LOOP_INDEXES = (Path(__file__).parent / "sql" / "loop_indexes.sql").read_text()


def with_dbname(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def build(url: str, orgs: int, tickets: int, days: int) -> list[uuid.UUID]:
    conn = await asyncpg.connect(url)
    try:
        await migrations.migrate(conn)
        started = time.perf_counter()
        names = [f"Bench {i:04d}" for i in range(orgs)]
        created = []
        for chunk in range(0, orgs, 100):  # 100 organizations (100,000 tickets) per transaction
            created += await create_organizations(
                conn, names[chunk : chunk + 100], agents=8, tickets=tickets, days=days
            )
        # The baseline loop counts each organization's tickets by status; give it the index
        # that makes that an index-only scan (the cycle itself reads kept counts instead).
        await conn.execute(
            "CREATE INDEX ix_tickets_org_status ON tickets (organization_id, status)"
        )
        await conn.execute("VACUUM ANALYZE")
        total = await conn.fetchval("SELECT count(*) FROM tickets")
        mix = await conn.fetch("SELECT status, count(*) AS n FROM tickets GROUP BY 1 ORDER BY 1")
        print(
            f"built {orgs} organizations, {total} tickets in {time.perf_counter() - started:.1f} s"
        )
        print("  status mix: " + ", ".join(f"{r['status']} {r['n']}" for r in mix))
        return [o.id for o in created]
    finally:
        await conn.close()


async def time_cycles(url: str, runs: int) -> list[float]:
    conn = await asyncpg.connect(url, server_settings=session_settings("bench-cycle"))
    try:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            cycle = await take_snapshots(conn, WINDOW)
            times.append(time.perf_counter() - started)
        assert cycle.organizations > 0
        return times
    finally:
        await conn.close()


async def time_loop(url: str, org_ids: list[uuid.UUID], runs: int) -> list[float]:
    """The seed's design: one statement per organization, in a loop, in one transaction."""
    conn = await asyncpg.connect(url, server_settings=session_settings("bench-loop"))
    try:
        # Give the loop its best shot: indexes that lead with the organization.
        await conn.execute(LOOP_INDEXES)
        await conn.execute("ANALYZE tickets")
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            async with conn.transaction():
                at = datetime.now(UTC)
                for org in org_ids:
                    await conn.fetch(PER_ORG_SQL, at, WINDOW, org)
            times.append(time.perf_counter() - started)
        return times
    finally:
        await conn.close()


def summary(times: list[float]) -> str:
    return (
        f"median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, n={len(times)})"
    )


async def bench(url: str, args: argparse.Namespace) -> None:
    org_ids = await build(url, args.orgs, args.tickets_per_org, args.days)
    cold = await time_cycles(url, 1)
    warm = await time_cycles(url, args.runs)
    loop = await time_loop(url, org_ids, args.loop_runs)
    print(f"set-based cycle, first run: {cold[0] * 1000:.0f} ms")
    print(f"set-based cycle, warm:      {summary(warm)}")
    print(f"per-organization loop:      {summary(loop)}")
    print(f"speed-up (median):          {statistics.median(loop) / statistics.median(warm):.1f}x")


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    if args.database_url:
        name = f"atum_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(args.database_url)
        print(f"postgres: {await admin.fetchval('SHOW server_version')} at {args.database_url}")
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            await bench(with_dbname(args.database_url, name), args)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
        return
    with tempfile.TemporaryDirectory(prefix="atum-bench-") as tmp:
        cluster = PgServerCluster(Path(tmp) / "pg", keep_running=False)
        try:
            conn = await asyncpg.connect(cluster.url())
            print(f"postgres: {await conn.fetchval('SHOW server_version')} (embedded)")
            await conn.close()
            await bench(cluster.url(), args)
        finally:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("ATUM_BENCH_DATABASE_URL"))
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--tickets-per-org", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=10, help="warm set-based cycles to time")
    parser.add_argument("--loop-runs", type=int, default=3, help="per-organization loops to time")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: export one day of 1,000 organizations x 2,880 snapshots (2.88 M rows) to Parquet.

    python bench/export.py [--orgs 1000] [--per-day 2880] [--runs 2]

Uses ATUM_BENCH_DATABASE_URL or ATUM_TEST_DATABASE_URL (an admin URL of a Postgres server, by
default postgresql://postgres@127.0.0.1:5432/postgres), creates the database atum_bench_export
there once and reuses it while it holds the expected rows. Each run starts the real CLI
(`python -m atum_metrics export`) as a child process and reports its wall time, rows/s and peak
RSS. The baseline in the same run is Postgres alone: the exporter's COPY query (same CSV
dialect) into a sink that drops the bytes, i.e. what any COPY-based exporter pays on this machine
before it does anything with the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from atum_metrics import migrations
from atum_metrics.exporter import CSV_DELIMITER, CSV_QUOTE, day_bounds
from atum_metrics.resources import load_sql

DAY = date(2026, 1, 15)
DATABASE = "atum_bench_export"
GOAL_ROWS_PER_S = 300_000
GOAL_RSS_MB = 300

# Synthetic snapshots shaped like the worker's: fixed-key count objects, six agents' loads,
# percentiles with some NULLs. Triggers are off while loading (no NOTIFY per row).
LOAD = """
INSERT INTO metrics_snapshots (organization_id, snapshot_ts, tickets_by_status,
    tickets_by_priority, frt_p50, frt_p95, mttr_p50, mttr_p95, sla_compliance_pct, agent_load,
    created_at)
SELECT o.id, ts,
    jsonb_build_object('open', h % 40, 'pending', h % 13, 'resolved', h % 97, 'closed', h % 311),
    jsonb_build_object('low', h % 7, 'medium', h % 11, 'high', h % 5, 'urgent', h % 3),
    (h % 1000) / 7.0, (h % 5000) / 3.0, (h % 3000) / 11.0, (h % 9000) / 13.0,
    CASE WHEN h % 10 = 0 THEN NULL ELSE 100.0 * (h % 1000) / 1000 END,
    jsonb_build_object('agent-01', h % 9, 'agent-02', h % 8, 'agent-03', h % 7,
                       'agent-04', h % 6, 'agent-05', h % 5, 'agent-06', 0),
    ts
FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $1::int)) o
CROSS JOIN generate_series($2::timestamptz, $3::timestamptz - interval '1 microsecond',
                           interval '1 day' / $4::int) ts
CROSS JOIN LATERAL (SELECT abs(hashtext(o.id::text || ts::text)) AS h) x
"""


def with_dbname(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def prepare(admin_url: str, orgs: int, per_day: int) -> str:
    url = with_dbname(admin_url, DATABASE)
    admin = await asyncpg.connect(admin_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(url, server_settings={"TimeZone": "UTC"})
    try:
        await migrations.migrate(conn)
        await conn.execute("SELECT atum_ensure_partitions($1, 1)", DAY)
        have = await conn.fetchval(load_sql("count_day"), *day_bounds(DAY))
        if have != orgs * per_day:
            print(f"loading {orgs} x {per_day} snapshots (once) ...", flush=True)
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute(
                    "DELETE FROM metrics_snapshots WHERE snapshot_ts >= $1 AND snapshot_ts < $2",
                    *day_bounds(DAY),
                )
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(LOAD, orgs, *day_bounds(DAY), per_day)
            await conn.execute("VACUUM ANALYZE metrics_snapshots")
            print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        await conn.close()
    return url


async def baseline(url: str) -> tuple[int, float]:
    """Postgres alone: the exporter's COPY into a sink that drops the bytes."""
    conn = await asyncpg.connect(url, server_settings={"TimeZone": "UTC"})
    rows = 0

    async def sink(chunk: bytes) -> None:
        nonlocal rows
        rows += chunk.count(b"\n")

    try:
        started = time.perf_counter()
        await conn.copy_from_query(
            load_sql("export_day"),
            *day_bounds(DAY),
            output=sink,
            format="csv",
            delimiter=CSV_DELIMITER,
            quote=CSV_QUOTE,
        )
        return rows, time.perf_counter() - started
    finally:
        await conn.close()


def export_once(url: str, out: Path) -> tuple[float, float]:
    """Run the CLI exporter; return (seconds, the child's peak RSS in MB)."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "atum_metrics",
            "--database-url",
            url,
            "--log-level",
            "WARNING",
            "export",
            "--date",
            DAY.isoformat(),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"export failed: {done.stderr.strip()}")
    # Linux reports ru_maxrss in KiB: the largest child so far, i.e. the exporter.
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=2880)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    admin = os.environ.get("ATUM_BENCH_DATABASE_URL") or os.environ.get(
        "ATUM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    url = asyncio.run(prepare(admin, args.orgs, args.per_day))
    expected = args.orgs * args.per_day
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}, {load_note()}")
    rows, seconds = asyncio.run(baseline(url))
    assert rows == expected, (rows, expected)
    print(
        f"baseline  Postgres COPY alone: {rows} rows in {seconds:.1f} s"
        f" = {rows / seconds:,.0f} rows/s"
    )
    digests = set()
    with tempfile.TemporaryDirectory(prefix="atum-bench-export-") as tmp:
        for run in range(1, args.runs + 1):
            seconds, rss = export_once(url, Path(tmp))
            content = (Path(tmp) / f"metrics_{DAY}.parquet").read_bytes()
            digests.add(hashlib.sha256(content).hexdigest())
            print(
                f"run {run}     atum-metrics export: {expected} rows in {seconds:.1f} s ="
                f" {expected / seconds:,.0f} rows/s, peak RSS {rss:.0f} MB,"
                f" file {len(content) / 2**20:.0f} MiB"
            )
    print(f"files     {'byte-identical' if len(digests) == 1 else 'DIFFERENT'} across runs")
    print(f"goal      >= {GOAL_ROWS_PER_S:,} rows/s end to end, < {GOAL_RSS_MB} MB peak RSS")
    print(f"after: {load_note()}")


if __name__ == "__main__":
    main()

"""``atum-metrics export``: Postgres rows equal the Parquet rows, re-runs are byte-identical."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import duckdb
import pytest

from atum_metrics import exporter
from atum_metrics.demo import create_organizations
from atum_metrics.settings import Settings
from atum_metrics.snapshots import take_snapshots

DAY = date(2026, 3, 14)
WINDOW = timedelta(hours=24)
COLUMNS = list(exporter.COLUMNS)
JSON_COLUMNS = {"tickets_by_status", "tickets_by_priority", "agent_load"}


def at(day: date, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=UTC)


async def seed_day(conn: asyncpg.Connection) -> None:
    """Snapshots on DAY (first and last microsecond included) and on the days either side."""
    await conn.execute("SELECT atum_ensure_partitions($1, 2)", DAY)
    await create_organizations(conn, ["Export A", "Export B"], tickets=60, now=at(DAY, 12))
    for ts in (
        at(DAY, 0),
        at(DAY, 9, 30, 15, 123456),
        at(DAY, 23, 59, 59, 999999),
        at(DAY + timedelta(days=1), 0),  # the next day: not exported
        at(DAY - timedelta(days=1), 23, 59, 59),  # the day before (default partition)
    ):
        await take_snapshots(conn, WINDOW, at=ts)
    # Awkward values the COPY/CSV/DuckDB path must carry unchanged.
    org = await conn.fetchval("SELECT id FROM organizations ORDER BY name LIMIT 1")
    await conn.execute(
        "INSERT INTO metrics_snapshots (organization_id, snapshot_ts, tickets_by_status,"
        " tickets_by_priority, frt_p50, frt_p95, mttr_p50, mttr_p95, sla_compliance_pct,"
        " agent_load) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)",
        org,
        at(DAY, 18, 1, 2, 3),
        '{"open": 1, "pending": 0, "resolved": 2, "closed": 3}',
        '{"low": 0, "medium": 1, "high": 0, "urgent": 0}',
        0.1 + 0.2,
        1e-300,
        123456789.123456789,
        100.0 / 3,
        json.dumps({'o"neil, "x"\n': 2, "zoë 🐙": 0, "back\\slash": 1, "": 4, "\x01\x1f": 5}),
    )


async def pg_rows(conn: asyncpg.Connection, day: date) -> list[dict[str, Any]]:
    start, end = exporter.day_bounds(day)
    rows = await conn.fetch(
        f"SELECT {', '.join(COLUMNS)} FROM metrics_snapshots"
        " WHERE snapshot_ts >= $1 AND snapshot_ts < $2 ORDER BY snapshot_ts, organization_id, id",
        start,
        end,
    )
    return [normalize(dict(r)) for r in rows]


def parquet_rows(path: Path) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        relation = con.sql(f"SELECT * FROM read_parquet('{path}')")
        assert relation.columns == COLUMNS
        return [normalize(dict(zip(COLUMNS, row, strict=True))) for row in relation.fetchall()]
    finally:
        con.close()


def normalize(row: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_COLUMNS:
        row[key] = json.loads(row[key])
    for key in ("snapshot_ts", "created_at"):
        row[key] = row[key].astimezone(UTC)
    return row


async def test_round_trip_value_for_value(conn: asyncpg.Connection, settings: Settings) -> None:
    await seed_day(conn)
    out = settings.exports
    result = await exporter.export_day(settings, DAY, out)

    expected = await pg_rows(conn, DAY)
    assert result.path == out / "metrics_2026-03-14.parquet"
    assert result.rows == len(expected) == 2 * 3 + 1
    assert parquet_rows(result.path) == expected
    assert {r["snapshot_ts"] for r in expected} >= {at(DAY, 0), at(DAY, 23, 59, 59, 999999)}
    assert exporter.parquet_row_count(result.path) == result.rows
    assert sorted(os.listdir(out)) == ["metrics_2026-03-14.parquet"]  # no temporary left


async def test_parquet_types(conn: asyncpg.Connection, settings: Settings) -> None:
    await seed_day(conn)
    result = await exporter.export_day(settings, DAY, settings.exports)
    con = duckdb.connect()
    described = con.sql(f"DESCRIBE SELECT * FROM '{result.path}'").fetchall()
    codecs = con.sql(
        f"SELECT DISTINCT compression FROM parquet_metadata('{result.path}')"
    ).fetchall()
    con.close()
    assert {name: kind for name, kind, *_ in described} == {
        **exporter.COLUMNS,
        "snapshot_ts": "TIMESTAMP WITH TIME ZONE",
        "created_at": "TIMESTAMP WITH TIME ZONE",
    }
    assert codecs == [("ZSTD",)]


async def test_re_export_is_byte_identical(conn: asyncpg.Connection, settings: Settings) -> None:
    await seed_day(conn)
    first = await exporter.export_day(settings, DAY, settings.exports)
    content = first.path.read_bytes()
    inode = first.path.stat().st_ino
    second = await exporter.export_day(settings, DAY, settings.exports)
    assert second.path == first.path
    assert second.path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert second.path.read_bytes() == content


async def test_empty_day_writes_a_valid_empty_file(settings: Settings) -> None:
    result = await exporter.export_day(settings, DAY, settings.exports)
    assert result.rows == 0
    con = duckdb.connect()
    count = con.sql(f"SELECT count(*) FROM '{result.path}'").fetchall()
    columns = con.sql(f"SELECT * FROM '{result.path}'").columns
    con.close()
    assert count == [(0,)]
    assert columns == COLUMNS


def test_default_date_is_yesterday_utc() -> None:
    assert exporter.parse_day(None, today=date(2026, 3, 1)) == date(2026, 2, 28)
    assert exporter.parse_day("2026-02-28", today=date(2026, 3, 1)) == date(2026, 2, 28)
    for bad in ("2026-2-28", "2026-02-30", "yesterday", "2026-02-28T00:00", ""):
        with pytest.raises(ValueError):
            exporter.parse_day(bad, today=date(2026, 3, 1))


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atum_metrics", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("bad", ["2026-13-01", "14/03/2026", "tomorrow"])
def test_bad_date_exits_2_with_one_line(settings: Settings, bad: str) -> None:
    done = cli("--database-url", str(settings.database_url), "export", "--date", bad)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert bad in done.stderr and "YYYY-MM-DD" in done.stderr


def test_unreachable_database_fails_with_one_line(tmp_path: Path) -> None:
    done = cli(
        "--database-url",
        "postgresql://postgres@127.0.0.1:9/postgres",
        "export",
        "--date",
        "2026-03-14",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "2026-03-14" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _socket_url(url: str) -> str | None:
    """The same database over its Unix socket, which stays reachable without a network."""
    parts = urlsplit(url)
    if "host=/" in parts.query or "host=%2F" in parts.query:
        return url
    for folder in ("/var/run/postgresql", "/tmp"):
        if Path(folder, f".s.PGSQL.{parts.port or 5432}").exists():
            return f"postgresql://{parts.username}@{parts.path}?host={folder}&port={parts.port}"
    return None


async def test_export_works_without_network(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    await seed_day(conn)
    env = {
        **os.environ,
        # An empty home: no DuckDB extension cached from an earlier run can be loaded.
        "HOME": str(tmp_path / "home"),
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "ATUM_LOG_LEVEL": "WARNING",
    }
    url = _socket_url(str(settings.database_url))
    sandbox: list[str] = []
    if url is not None and os.geteuid() == 0 and shutil.which("unshare"):
        # A new network namespace has no interface up: any connection attempt fails.
        sandbox = ["unshare", "--net"]
    else:
        url = str(settings.database_url)
    out = tmp_path / "exports"
    done = await asyncio.to_thread(
        subprocess.run,
        [
            *sandbox,
            sys.executable,
            "-m",
            "atum_metrics",
            "--database-url",
            url,
            "export",
            "--date",
            DAY.isoformat(),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"exported 7 snapshots of {DAY}" in done.stdout
    assert done.stderr == ""  # in a pipe: no progress bar
    assert parquet_rows(out / "metrics_2026-03-14.parquet") == await pg_rows(conn, DAY)


async def test_progress_bar_on_a_terminal(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    script = shutil.which("script")
    if script is None:
        pytest.skip("script(1) is not installed")
    await seed_day(conn)
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "atum_metrics",
            "--log-level",
            "WARNING",
            "--database-url",
            str(settings.database_url),
            "export",
            "--date",
            DAY.isoformat(),
            "--out",
            str(tmp_path / "exports"),
        ]
    )
    # script(1) runs the command on a pseudo-terminal (given a size, as a real one has).
    done = await asyncio.to_thread(
        subprocess.run,
        [script, "-qec", f"stty cols 100 rows 30; {command}", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert f"{DAY}:   0%|" in done.stdout  # the bar, with the day's row count as total
    assert "/7.00 [" in done.stdout and "rows/s" in done.stdout
    assert f"exported 7 snapshots of {DAY}" in done.stdout


async def test_failed_export_keeps_the_previous_file(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    await seed_day(conn)
    first = await exporter.export_day(settings, DAY, settings.exports)
    content = first.path.read_bytes()
    broken = settings.replace(read_database_url="postgresql://postgres@127.0.0.1:9/postgres")
    with pytest.raises(OSError):
        await exporter.export_day(broken, DAY, settings.exports)
    assert first.path.read_bytes() == content
    assert sorted(p.name for p in settings.exports.iterdir()) == [first.path.name]


async def test_duckdb_failure_mid_stream_is_reported_and_leaves_nothing(
    conn: asyncpg.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_day(conn)
    # A wrong column type makes DuckDB fail on the first row, while Postgres is still writing.
    monkeypatch.setitem(exporter.COLUMNS, "snapshot_ts", "INTEGER")
    with pytest.raises(duckdb.Error, match=r"snapshot_ts|INT|convert|Conversion"):
        await asyncio.wait_for(exporter.export_day(settings, DAY, settings.exports), 60)
    assert list(settings.exports.iterdir()) == []


async def test_duckdb_failure_before_reading_does_not_hang(
    conn: asyncpg.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_day(conn)

    def refuse(con: object, fifo: Path, staged: Path) -> None:
        raise duckdb.IOException("disk on fire")  # never opens the FIFO

    monkeypatch.setattr(exporter, "_write_parquet", refuse)
    with pytest.raises(duckdb.IOException, match="disk on fire"):
        await asyncio.wait_for(exporter.export_day(settings, DAY, settings.exports), 60)
    assert list(settings.exports.iterdir()) == []


def test_systemd_units_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` on every unit in systemd/, with ExecStart= pointed at this
    installation's console script (verify insists that the program exists)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (apt-get install systemd)")
        pytest.skip("systemd-analyze is not installed")
    program = Path(sys.executable).with_name("atum-metrics")
    assert program.exists()
    folder = Path(__file__).parent.parent / "systemd"
    units = sorted(p for p in folder.iterdir() if p.suffix in {".service", ".timer"})
    names = {unit.name for unit in units}
    assert {"atum-desk-metrics-export.service", "atum-desk-metrics-export.timer"} <= names
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        (tmp_path / unit.name).write_text(
            text.replace("/opt/atum-metrics/bin/atum-metrics", str(program)), encoding="utf-8"
        )
    done = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in sorted(names))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


async def test_debris_of_killed_exports_is_removed(settings: Settings) -> None:
    stale = settings.exports / ".export-killed"
    fresh = settings.exports / ".export-running"
    for work in (stale, fresh):
        work.mkdir(parents=True)
        (work / "metrics_2026-03-14.parquet").write_bytes(b"partial")
    two_days_ago = datetime.now(UTC).timestamp() - 2 * 86_400
    os.utime(stale, (two_days_ago, two_days_ago))
    await exporter.export_day(settings, DAY, settings.exports)
    assert sorted(p.name for p in settings.exports.iterdir()) == [
        ".export-running",
        "metrics_2026-03-14.parquet",
    ]

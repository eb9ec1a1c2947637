"""``atum-metrics analytics``: read-only DuckDB SQL over the exports, as table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from atum_metrics import analytics, exporter
from atum_metrics.demo import create_organizations
from atum_metrics.settings import Settings
from atum_metrics.snapshots import take_snapshots

DAYS = (date(2026, 4, 1), date(2026, 4, 2))


def run(settings: Settings, sql: str | None, output_format: str = "table") -> tuple[int, str]:
    out = io.StringIO()
    code = analytics.main(settings, sql=sql, output_format=output_format, out=out)
    return code, out.getvalue()


@pytest.fixture
async def exported(conn: asyncpg.Connection, settings: Settings) -> Settings:
    """Two organizations, three snapshots on each of two days, both days exported."""
    await create_organizations(
        conn, ["Analytics A", "Analytics B"], tickets=80, now=datetime(2026, 4, 2, 12, tzinfo=UTC)
    )
    for day in DAYS:
        for hour in (6, 12, 18):
            ts = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
            await take_snapshots(conn, timedelta(hours=24), at=ts)
        await exporter.export_day(settings, day, settings.exports)
    return settings


async def test_summary_per_organization(conn: asyncpg.Connection, exported: Settings) -> None:
    code, text = run(exported, None, "json")
    assert code == 0
    items = {item["organization_id"]: item for item in json.loads(text)}
    expected = await conn.fetch(
        "SELECT organization_id::text AS org, count(*) AS n,"
        " round(avg(sla_compliance_pct)::numeric, 2)::float8 AS sla,"
        " round(percentile_cont(0.5) WITHIN GROUP (ORDER BY frt_p50)::numeric, 2)::float8 AS frt"
        " FROM metrics_snapshots GROUP BY 1"
    )
    assert set(items) == {r["org"] for r in expected}
    for row in expected:
        item = items[row["org"]]
        assert item["days"] == 2
        assert (item["first_day"], item["last_day"]) == ("2026-04-01", "2026-04-02")
        assert item["snapshots"] == row["n"] == 6
        assert item["sla_compliance_avg"] == pytest.approx(row["sla"], abs=0.011)
        assert item["frt_p50_median"] == pytest.approx(row["frt"], abs=0.011)
    busiest = await conn.fetch(
        "SELECT DISTINCT ON (org) org, agent FROM ("
        "  SELECT s.organization_id::text AS org, l.key AS agent, avg(l.value::int) AS load"
        "  FROM metrics_snapshots s, jsonb_each_text(s.agent_load) l GROUP BY 1, 2) a"
        " ORDER BY org, load DESC, agent DESC"
    )
    assert {r["org"]: r["agent"] for r in busiest} == {
        org: item["busiest_agent"] for org, item in items.items()
    }


async def test_table_and_csv(exported: Settings) -> None:
    sql = "SELECT count(*) AS n, count(DISTINCT organization_id) AS orgs FROM metrics_snapshots"
    code, table = run(exported, sql)
    assert code == 0
    assert table.splitlines()[0].split() == ["n", "orgs"]
    assert table.splitlines()[2].split() == ["12", "2"]
    assert table.splitlines()[-1] == "(1 row)"
    code, text = run(exported, sql, "csv")
    assert list(csv.reader(io.StringIO(text))) == [["n", "orgs"], ["12", "2"]]


async def test_json_columns_stay_json(exported: Settings) -> None:
    sql = (
        "SELECT tickets_by_status, agent_load, frt_p50 FROM metrics_snapshots"
        " ORDER BY snapshot_ts, organization_id LIMIT 1"
    )
    code, text = run(exported, sql, "json")
    assert code == 0
    [item] = json.loads(text)
    assert set(item["tickets_by_status"]) == {"open", "pending", "resolved", "closed"}
    assert all(isinstance(v, int) for v in item["agent_load"].values())


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", "syntax error"),
        ("SELECT nope FROM metrics_snapshots", "nope"),
        ("COPY (SELECT 1) TO '/tmp/atum-out.csv'", "read-only"),
        ("CREATE TABLE t AS SELECT 1", "read-only"),
        ("SELECT 1; SELECT 2", "one SQL statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled"),
        ("SET enable_external_access = true", "read-only"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/atum-out.csv'", "read-only"),
    ],
)
def test_bad_sql_is_one_line_exit_2(exported: Settings, sql: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atum_metrics", "analytics", sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"ATUM_EXPORT_DIR": str(exported.exports), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert message in done.stderr.lower() or message in done.stderr
    assert not Path("/tmp/atum-out.csv").exists()


def test_no_exports_is_one_line_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atum_metrics", "analytics"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"ATUM_EXPORT_DIR": str(tmp_path / "empty"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "no exports" in done.stderr


def test_reader_leaving_early_is_not_an_error(exported: Settings) -> None:
    # `atum-metrics analytics ... | head -1`: far more output than a pipe buffer holds.
    with subprocess.Popen(
        [sys.executable, "-m", "atum_metrics", "analytics", "SELECT * FROM range(300000)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"ATUM_EXPORT_DIR": str(exported.exports), "PATH": "/usr/bin:/bin"},
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline().split() == [b"range"]
        child.stdout.close()
        errors = child.stderr.read()
        assert child.wait(timeout=60) == 0
    assert errors == b""

"""Analytics: read-only DuckDB SQL over the Parquet exports, seen as ``metrics_snapshots``."""

from __future__ import annotations

import csv
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import duckdb
import orjson

from atum_metrics.resources import load_sql
from atum_metrics.settings import Settings

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXPORT_GLOB = "metrics_????-??-??.parquet"
# Statements that only read; anything else (COPY, CREATE, ATTACH, SET, ...) is refused, and so
# is EXPLAIN, whose ANALYZE form runs the statement it explains (a COPY would write).
READ_ONLY = frozenset({duckdb.StatementType.SELECT})


class AnalyticsError(Exception):
    """The user's SQL cannot run; the message is one line."""


def connect_duckdb(*, threads: int | None = None, memory_limit: str | None = None) -> Any:
    """An in-memory DuckDB that never reaches the network: no extension download or autoload.

    The Parquet and JSON support we use is built into the wheel (``duckdb_extensions()``).
    """
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        con.execute("SET memory_limit = $1", [memory_limit])
    return con


def sql_string(text: str) -> str:
    """A SQL string literal, for the few places DuckDB takes no bound parameter (COPY TO)."""
    return "'" + text.replace("'", "''") + "'"


def export_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(EXPORT_GLOB))


def open_exports(files: Sequence[Path]) -> Any:
    """A locked-down DuckDB whose view ``metrics_snapshots`` reads ``files``."""
    con = connect_duckdb()
    listing = ", ".join(sql_string(str(f)) for f in files)
    # union_by_name: files written before a column was added still read (NULL there).
    con.execute(
        "CREATE VIEW metrics_snapshots AS SELECT * FROM"
        f" read_parquet([{listing}], union_by_name = true)"
    )
    # From here on the user's SQL may read these files and no other path, and may not change
    # that setting back.
    con.execute("SET allowed_paths = $1", [[str(f) for f in files]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def check_statement(sql: str) -> None:
    """Refuse anything but exactly one SELECT, before any file is opened."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise AnalyticsError(_one_line(exc)) from None
    if len(statements) != 1:
        raise AnalyticsError(f"expected one SQL statement, got {len(statements)}")
    if statements[0].type not in READ_ONLY:
        raise AnalyticsError("analytics is read-only: only a SELECT statement is allowed")


def run_query(con: Any, sql: str) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """Run one read-only statement; return column names, DuckDB type names and rows."""
    check_statement(sql)
    try:
        relation = con.sql(sql)
        if relation is None:
            return [], [], []
        return list(relation.columns), [str(t) for t in relation.types], relation.fetchall()
    except duckdb.Error as exc:
        raise AnalyticsError(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def write_table(out: TextIO, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """A plain aligned text table (numbers right-aligned, NULL shown as empty)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(r[i], int | float) for r in rows if r[i] is not None)
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out.write(line(columns) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_csv(out: TextIO, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(["" if v is None else v for v in row] for row in rows)


def write_json(
    out: TextIO, columns: list[str], types: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """A JSON array of objects; JSON columns are embedded as JSON, not as strings."""
    is_json = [t == "JSON" for t in types]
    items = [
        {
            c: orjson.Fragment(v) if j and v is not None else v
            for c, j, v in zip(columns, is_json, row, strict=True)
        }
        for row in rows
    ]
    option = orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z
    out.write(orjson.dumps(items, default=str, option=option).decode() + "\n")


def main(settings: Settings, *, sql: str | None, output_format: str, out: TextIO) -> int:
    """``atum-metrics analytics``: exit 0, 2 for bad SQL, 1 when there is nothing exported."""
    try:
        check_statement(sql or load_sql("analytics_summary"))
    except AnalyticsError as exc:
        print(f"atum-metrics: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    files = export_files(settings.exports)
    if not files:
        print(
            f"atum-metrics: no exports in {settings.exports}; run `atum-metrics export` first",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    con = open_exports(files)
    try:
        columns, types, rows = run_query(con, sql or load_sql("analytics_summary"))
    except AnalyticsError as exc:
        print(f"atum-metrics: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        con.close()
    try:
        if output_format == "csv":
            write_csv(out, columns, rows)
        elif output_format == "json":
            write_json(out, columns, types, rows)
        else:
            write_table(out, columns, rows)
        out.flush()
    except BrokenPipeError:
        # The reader left (`| head`): not an error. Point stdout at /dev/null so that the
        # interpreter's final flush does not complain either.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK

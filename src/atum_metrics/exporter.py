"""Export: one UTC day of snapshots, streamed from Postgres by COPY into a zstd Parquet file.

Postgres writes CSV into a FIFO while DuckDB reads it and writes Parquet, so neither side holds
the day in memory. The file appears atomically (temporary name, fsync, rename) and only once
its row count equals what COPY sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import duckdb
from tqdm import tqdm

from atum_metrics.analytics import connect_duckdb, sql_string
from atum_metrics.database import connect, read_url
from atum_metrics.resources import load_sql
from atum_metrics.settings import Settings

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE = 0, 1
# The Parquet schema, in the order of sql/queries/export_day.sql. JSON columns keep Postgres's
# jsonb text as DuckDB's JSON type (a Parquet string with the JSON logical type).
COLUMNS: dict[str, str] = {
    "id": "UUID",
    "organization_id": "UUID",
    "snapshot_ts": "TIMESTAMPTZ",
    "tickets_by_status": "JSON",
    "tickets_by_priority": "JSON",
    "frt_p50": "DOUBLE",
    "frt_p95": "DOUBLE",
    "mttr_p50": "DOUBLE",
    "mttr_p95": "DOUBLE",
    "sla_compliance_pct": "DOUBLE",
    "agent_load": "JSON",
    "created_at": "TIMESTAMPTZ",
}
ROW_GROUP_SIZE = 122_880
# CSV between Postgres and DuckDB with control characters as delimiter and quote: jsonb text
# escapes every character below 0x20, so no field needs quoting and the JSON's many '"' are
# not doubled (less to write and to parse). A field that did hold one would still be quoted.
CSV_DELIMITER = "\x1f"
CSV_QUOTE = "\x01"
# DuckDB's share of the exporter's memory (the Parquet writer buffers about a row group per
# thread); keeps the whole exporter under ~300 MB RSS for any size of day.
DUCKDB_MEMORY_LIMIT = "192MB"
POKE_SECONDS = 0.05
# Each run works in its own hidden folder beside the file; one older than a day is debris.
WORK_PREFIX = ".export-"
STALE_WORK_SECONDS = 86_400.0
# Bytes per write into the FIFO, and the pipe size asked for (Linux allows 1 MiB unprivileged).
PIPE_BYTES = 1 << 20


class ExportError(Exception):
    """The export did not produce a verified file; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class Export:
    """What one export wrote."""

    day: date
    path: Path
    rows: int
    seconds: float


def export_path(directory: Path, day: date) -> Path:
    return directory / f"metrics_{day.isoformat()}.parquet"


def parse_day(text: str | None, *, today: date) -> date:
    """``YYYY-MM-DD`` (default: the UTC day before ``today``); ValueError when malformed."""
    if text is None:
        return today - timedelta(days=1)
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--date {text!r} is not a date in the form YYYY-MM-DD") from None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC day as the half-open range [start, end)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def parquet_row_count(path: Path) -> int:
    """Rows in a Parquet file, from its footer (no data is read)."""
    con = connect_duckdb(threads=1)
    try:
        row = con.execute("SELECT sum(num_rows) FROM parquet_file_metadata($1)", [str(path)])
        count = row.fetchone()
        return int(count[0] or 0) if count else 0
    finally:
        con.close()


def _csv_source(fifo: Path) -> str:
    columns = ", ".join(f"{sql_string(n)}: {sql_string(t)}" for n, t in COLUMNS.items())
    # Postgres CSV: NULL is an unquoted empty field, quote characters are doubled, no header.
    return (
        f"read_csv({sql_string(str(fifo))}, header = false, auto_detect = false,"
        f" delim = {sql_string(CSV_DELIMITER)}, quote = {sql_string(CSV_QUOTE)},"
        f" escape = {sql_string(CSV_QUOTE)}, nullstr = '', allow_quoted_nulls = false,"
        f" columns = {{{columns}}})"
    )


def _write_parquet(con: Any, fifo: Path, staged: Path) -> None:
    con.execute(
        f"COPY (SELECT * FROM {_csv_source(fifo)}) TO {sql_string(str(staged))}"
        f" (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE})"
    )


async def _copy(
    conn: asyncpg.Connection, bounds: tuple[datetime, datetime], fifo: Path, bar: tqdm[Any]
) -> str:
    loop = asyncio.get_running_loop()
    # Opening a FIFO blocks until the other end opens, so it happens off the event loop.
    # Buffered: its write() retries short writes, which a pipe may return.
    pipe = await loop.run_in_executor(None, lambda: open(fifo, "wb"))  # noqa: SIM115
    with contextlib.suppress(OSError):  # a bigger pipe: fewer wake-ups of either side
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    pending: list[bytes] = []
    size = 0

    async def flush() -> None:
        nonlocal size
        data = b"".join(pending)
        pending.clear()
        size = 0
        await loop.run_in_executor(None, pipe.write, data)

    async def sink(chunk: bytes) -> None:
        # asyncpg hands over ~30 KB at a time; one thread hop per MiB costs far less.
        nonlocal size
        pending.append(chunk)
        size += len(chunk)
        bar.update(chunk.count(b"\n"))  # jsonb escapes newlines: one per row
        if size >= PIPE_BYTES:
            await flush()

    try:
        status: str = await conn.copy_from_query(
            load_sql("export_day"),
            *bounds,
            output=sink,
            format="csv",
            delimiter=CSV_DELIMITER,
            quote=CSV_QUOTE,
        )
        await flush()
        return status
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def _poke(fifo: Path, mode: int) -> None:
    """Open and close one end of the FIFO, waking a partner blocked in open() or read()."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, mode | os.O_NONBLOCK))


async def _settle(duck: asyncio.Future[None], copy: asyncio.Task[str], fifo: Path) -> None:
    """Wait for both sides. When one ends (or fails) first, the other may be blocked on the
    FIFO waiting for a partner that will never come: poke it until it notices."""
    while not (duck.done() and copy.done()):
        if copy.done():
            _poke(fifo, os.O_WRONLY)
        if duck.done():
            _poke(fifo, os.O_RDONLY)
        pending = {t for t in (duck, copy) if not t.done()}
        timeout = POKE_SECONDS if len(pending) == 1 else None
        await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION)


async def _stream(
    conn: asyncpg.Connection,
    bounds: tuple[datetime, datetime],
    work: Path,
    staged: Path,
    bar: tqdm[Any],
) -> int:
    """COPY the day into a FIFO that DuckDB turns into ``staged``; return the rows COPY sent."""
    fifo = work / "rows.csv"
    os.mkfifo(fifo, 0o600)
    # One DuckDB thread: the FIFO is read by one thread anyway, Postgres keeps the other core
    # busy, and a single pipeline writes the same row groups every time (bench/export.py:
    # a quarter less CPU than two threads, same bytes).
    con = connect_duckdb(threads=1, memory_limit=DUCKDB_MEMORY_LIMIT)
    duck = asyncio.ensure_future(asyncio.to_thread(_write_parquet, con, fifo, staged))
    copy = asyncio.ensure_future(_copy(conn, bounds, fifo, bar))
    try:
        try:
            await _settle(duck, copy, fifo)
        except asyncio.CancelledError:
            con.interrupt()
            copy.cancel()
            await _settle(duck, copy, fifo)
            raise
    finally:
        con.close()
    # DuckDB's error is the cause when both failed (COPY then only saw a broken pipe).
    for task in (duck, copy):
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
    return int(copy.result().split()[-1])


def remove_stale_work(directory: Path, *, older_than: float = STALE_WORK_SECONDS) -> None:
    """Delete temporary folders left by exports that were killed (SIGKILL, power loss)."""
    cutoff = time.time() - older_than
    for work in directory.glob(f"{WORK_PREFIX}*"):
        with contextlib.suppress(OSError):
            if work.is_dir() and work.stat().st_mtime < cutoff:
                shutil.rmtree(work)
                logger.info("removed %s, left by an interrupted export", work)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def export_day(
    settings: Settings, day: date, directory: Path, *, progress: bool = False
) -> Export:
    """Write ``directory/metrics_<day>.parquet`` from the read database; return what was written."""
    started = time.perf_counter()
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(remove_stale_work, directory)
    target = export_path(directory, day)
    bounds = day_bounds(day)
    conn = await connect(read_url(settings), application_name="atum-export")
    try:
        # One snapshot of the data for the count (progress) and the COPY.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # Shortest exact float text (the default since Postgres 12), whatever the server says.
            await conn.execute("SET LOCAL extra_float_digits = 1")
            total = await conn.fetchval(load_sql("count_day"), *bounds) if progress else None
            with (
                tempfile.TemporaryDirectory(dir=directory, prefix=WORK_PREFIX) as work,
                tqdm(
                    total=total,
                    desc=str(day),
                    unit="rows",
                    unit_scale=True,
                    disable=not progress,
                    file=sys.stderr,
                    leave=False,
                ) as bar,
            ):
                staged = Path(work) / target.name
                rows = await _stream(conn, bounds, Path(work), staged, bar)
                written = await asyncio.to_thread(parquet_row_count, staged)
                if written != rows:
                    raise ExportError(f"{staged.name} has {written} rows, Postgres sent {rows}")
                _fsync(staged)
                os.replace(staged, target)
                _fsync(directory)
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    logger.info("exported %d snapshots of %s to %s in %.1f s", rows, day, target, seconds)
    return Export(day=day, path=target, rows=rows, seconds=seconds)


def main(settings: Settings, *, date: str | None, out: str | None) -> int:
    """``atum-metrics export``: 0 when the file is written and verified, 1 on failure."""
    from atum_metrics.cli import UsageError

    try:
        day = parse_day(date, today=datetime.now(UTC).date())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    directory = Path(out).expanduser() if out else settings.exports
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--out {str(directory)!r} is not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {str(directory)!r} cannot be created: {exc.strerror}") from None
    try:
        result = asyncio.run(export_day(settings, day, directory, progress=sys.stderr.isatty()))
    except (
        ExportError,
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        duckdb.Error,
    ) as exc:
        print(f"atum-metrics: export of {day} failed: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"exported {result.rows} snapshots of {day} to {result.path} in {result.seconds:.1f} s")
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__

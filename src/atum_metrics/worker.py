"""The snapshot worker: one leader (Postgres advisory lock) inserts a cycle every interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import asyncpg

from atum_metrics.database import connect, primary_url
from atum_metrics.settings import Settings
from atum_metrics.snapshots import Cycle, ensure_partitions, take_snapshots

logger = logging.getLogger(__name__)

# Held for as long as a worker leads; Postgres frees it when the leader's session ends.
LEADER_LOCK_KEY = 0x6174756D_0002
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0

# What a lost or refused database looks like from asyncpg.
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

CycleHook = Callable[[Cycle, float], None]
DailyHook = Callable[[asyncpg.Connection, date], Awaitable[None]]


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; return True when ``stop`` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    return stop.is_set()


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        on_cycle: CycleHook | None = None,
        daily: DailyHook | None = None,
        name: str = "atum-metrics-worker",
    ) -> None:
        self._settings = settings
        self._on_cycle = on_cycle
        self._daily = daily
        self._name = name
        self._maintained: date | None = None
        self.leading = False

    async def _connect(self) -> asyncpg.Connection:
        conn = await connect(
            primary_url(self._settings), application_name=self._name, keepalives=True
        )
        return conn

    async def run_once(self) -> Cycle:
        """One cycle now, whoever leads (``worker --once``)."""
        conn = await self._connect()
        try:
            return await self._cycle(conn)
        finally:
            await conn.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Lead or stand by until ``stop`` is set, reconnecting with backoff when the DB is away."""
        backoff = BACKOFF_FIRST
        while not stop.is_set():
            try:
                conn = await self._connect()
            except DB_ERRORS as exc:
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, backoff)
            else:
                backoff = BACKOFF_FIRST
                try:
                    await self._lead(conn, stop)
                except DB_ERRORS as exc:
                    logger.warning("lost the database (%s); retrying in %.1f s", exc, backoff)
                finally:
                    self.leading = False
                    with contextlib.suppress(*DB_ERRORS):
                        await asyncio.wait_for(conn.close(), timeout=2)
                    if not conn.is_closed():
                        conn.terminate()
            if stop.is_set() or await wait_or_stop(stop, backoff * (0.5 + random.random())):
                break
            backoff = min(backoff * 2, BACKOFF_MAX)
        logger.info("worker stopped")

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        interval = self._settings.snapshot_interval
        standby_logged = False
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK_KEY):
            if not standby_logged:
                logger.info("another worker leads; standing by")
                standby_logged = True
            # Poll often enough to take over well within one interval of the leader's death.
            if await wait_or_stop(stop, min(interval / 3, 5.0)):
                return
        self.leading = True
        logger.info("leading the snapshot cycles every %.0f s", interval)
        next_at = time.monotonic() + await self._due_in(conn, interval)
        while not await wait_or_stop(stop, next_at - time.monotonic()):
            await self._cycle(conn)
            next_at = max(next_at + interval, time.monotonic())

    async def _due_in(self, conn: asyncpg.Connection, interval: float) -> float:
        """Seconds until the next cycle is due, after the last one any worker recorded."""
        age: float | None = await conn.fetchval(
            "SELECT extract(epoch FROM now() - max(snapshot_ts))::float8 FROM metrics_cycles"
        )
        return 0.0 if age is None else max(interval - age, 0.0)

    async def _cycle(self, conn: asyncpg.Connection) -> Cycle:
        today = datetime.now(UTC).date()
        if self._maintained != today:
            await ensure_partitions(conn, today)
            if self._daily is not None:
                await self._daily(conn, today)
            self._maintained = today
        started = time.perf_counter()
        cycle = await take_snapshots(conn, self._settings.metrics_window)
        seconds = time.perf_counter() - started
        logger.info(
            "cycle at %s: %d organizations in %.3f s",
            cycle.snapshot_ts.isoformat(),
            cycle.organizations,
            seconds,
        )
        if self._on_cycle is not None:
            self._on_cycle(cycle, seconds)
        return cycle

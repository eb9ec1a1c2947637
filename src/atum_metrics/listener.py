"""The listener: one dedicated LISTEN connection (never from the pool) that notices its own
loss within seconds (termination callback plus a keep-alive probe) and comes back with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from atum_metrics.worker import DB_ERRORS, wait_or_stop

logger = logging.getLogger(__name__)

CHANNEL = "metrics_snapshots"
PROBE_INTERVAL = 2.0
PROBE_TIMEOUT = 2.0
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 10.0

PROBE_ERRORS: tuple[type[BaseException], ...] = (*DB_ERRORS, TimeoutError)
Connect = Callable[[], Awaitable[asyncpg.Connection]]


class Listener:
    """LISTEN on ``channel``; call ``on_notify(payload)`` for each announcement and
    ``on_connect(first)`` after every (re)connection, once LISTEN is in place."""

    def __init__(
        self,
        connect: Connect,
        on_notify: Callable[[str], None],
        on_connect: Callable[[bool], Awaitable[None]],
        *,
        on_reconnect: Callable[[], None] | None = None,
        channel: str = CHANNEL,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        self._connect = connect
        self._on_notify = on_notify
        self._on_connect = on_connect
        self._on_reconnect = on_reconnect
        self._channel = channel
        self._probe_interval = probe_interval
        self.live = False
        self.backend_pid: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = BACKOFF_FIRST
        first = True
        while not stop.is_set():
            try:
                conn = await self._connect()
            except DB_ERRORS as exc:
                logger.warning("LISTEN connection failed (%s); retrying in %.1f s", exc, backoff)
            else:
                try:
                    await self._serve(conn, stop, first)
                    first = False
                    backoff = BACKOFF_FIRST
                except DB_ERRORS as exc:
                    logger.warning("LISTEN connection failed: %s", exc)
                finally:
                    self.live = False
                    conn.terminate()
                if stop.is_set():
                    break
                logger.warning("LISTEN connection lost; reconnecting")
                if self._on_reconnect is not None:
                    self._on_reconnect()
            if await wait_or_stop(stop, backoff * (0.5 + random.random())):
                break
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _serve(self, conn: asyncpg.Connection, stop: asyncio.Event, first: bool) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(self._channel, self._deliver)
        self.backend_pid = conn.get_server_pid()
        # LISTEN is in place before the resync, so nothing committed meanwhile is missed.
        await self._on_connect(first)
        self.live = True
        logger.info("listening on %s (backend %s)", self._channel, self.backend_pid)
        while not lost.is_set() and not stop.is_set():
            if await _wait_any(stop, lost, self._probe_interval):
                return
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), PROBE_TIMEOUT)
            except PROBE_ERRORS as exc:
                logger.warning("LISTEN keep-alive probe failed: %r", exc)
                return
        with contextlib.suppress(*DB_ERRORS):
            if not conn.is_closed():
                await asyncio.wait_for(conn.remove_listener(self._channel, self._deliver), 1)

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            self._on_notify(str(payload))
        except Exception:
            logger.exception("announcement handler failed on %r", payload)


async def _wait_any(stop: asyncio.Event, lost: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds``; True when ``stop`` or ``lost`` was set."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
    try:
        done, _ = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)

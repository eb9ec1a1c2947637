"""The feed: turns announcements into frames for the hub, in batches (a worker cycle announces
one snapshot per organization at once), and answers the reads a stream or /live needs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson

from atum_metrics.hub import Frame, Hub
from atum_metrics.resources import load_sql
from atum_metrics.worker import DB_ERRORS

logger = logging.getLogger(__name__)

# Announcements arriving this close together are fetched with one query.
BATCH_WINDOW = 0.003
# Distinct Last-Event-IDs per organization whose replay is remembered until its next snapshot.
REPLAYS_REMEMBERED = 64
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Replay:
    """What a stream sends first after ``Last-Event-ID``."""

    frames: list[Frame]
    reset: bool = False
    missed: int | None = None


def frame_of(row: asyncpg.Record, notified_at: float | None = None) -> Frame:
    return Frame.build(
        row["organization_id"], row["id"], row["snapshot_ts"], row["body"], notified_at
    )


class Coalescer:
    """Concurrent callers asking for the same key share one query."""

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(make())
            self._inflight[key] = future
            future.add_done_callback(lambda _f: self._inflight.pop(key, None))
        result: T = await asyncio.shield(future)
        return result


class Feed:
    def __init__(self, pool: asyncpg.Pool, hub: Hub, replay_max: int) -> None:
        self._pool = pool
        self._hub = hub
        self._replay_max = replay_max
        self._pending: list[tuple[uuid.UUID, datetime, float]] = []
        self._arrived = asyncio.Event()
        self._coalescer = Coalescer()
        self._replays: dict[uuid.UUID, dict[uuid.UUID, Replay]] = {}

    def announce(self, payload: str) -> None:
        """The listener's callback: remember the key; the batch loop fetches the row."""
        note = orjson.loads(payload)
        ts = datetime.fromisoformat(note["snapshot_ts"])
        self._pending.append((uuid.UUID(note["id"]), ts, asyncio.get_running_loop().time()))
        self._arrived.set()

    def stop(self) -> None:
        """Wake ``run`` so that it sees its ``stop`` event."""
        self._arrived.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch announced snapshots in batches and publish them, in commit order."""
        while not stop.is_set():
            await self._arrived.wait()
            await asyncio.sleep(BATCH_WINDOW)
            self._arrived.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await self._publish_batch(batch)
                except DB_ERRORS as exc:
                    # The resync after the listener's reconnect (or the next cycle) catches up.
                    logger.warning("could not fetch %d announced snapshots: %s", len(batch), exc)

    async def _publish_batch(self, batch: list[tuple[uuid.UUID, datetime, float]]) -> None:
        ids = [key[0] for key in batch]
        stamps = sorted({key[1] for key in batch})
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(load_sql("snapshots_by_keys"), ids, stamps)
        notified = min(key[2] for key in batch)
        for row in rows:
            self._publish(frame_of(row, notified))

    def _publish(self, frame: Frame) -> None:
        if self._hub.publish(frame):
            self._replays.pop(frame.organization_id, None)

    async def resync(self, first: bool) -> None:
        """Reload the latest snapshots (of all organizations at first, else of those the hub
        knows) and push what changed while announcements could not arrive."""
        self._hub.forget_recent()
        self._replays.clear()
        orgs = None if first else list({*self._hub.latest, *self._hub.subscribed_organizations()})
        if orgs == []:
            return
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(load_sql("latest_snapshots"), orgs)
        for row in rows:
            self._publish(frame_of(row))
        logger.info("resync: %d latest snapshots loaded", len(rows))

    async def latest(self, org: uuid.UUID, *, warm: bool) -> Frame | None:
        """The latest snapshot: from memory when ``warm`` (the listener is live), else a query."""
        if warm:
            frame = self._hub.latest.get(org)
            if frame is not None or org in self._hub.missing:
                return frame
        return await self._coalescer.run(("latest", org), lambda: self._load_latest(org))

    async def _load_latest(self, org: uuid.UUID) -> Frame | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(load_sql("latest_snapshots"), [org])
        if row is None:
            self._hub.mark_missing(org)
            return None
        frame = frame_of(row)
        self._publish(frame)
        return frame

    async def replay(self, org: uuid.UUID, last_id: uuid.UUID, *, warm: bool) -> Replay:
        """Frames after ``last_id`` (CONTRACT 6): from memory when possible, one query shared
        by every client asking the same, and remembered until the organization's next one."""
        latest = await self.latest(org, warm=warm)
        if latest is not None and latest.id == last_id:
            return Replay([])
        if warm:
            frames = self._hub.recent_after(org, last_id)
            if frames is not None and len(frames) > self._replay_max:
                return Replay(frames[-1:], reset=True, missed=len(frames))
            if frames is not None:
                return Replay(frames)
            remembered = self._replays.get(org, {}).get(last_id)
            if remembered is not None:
                return remembered
        result = await self._coalescer.run(
            ("replay", org, last_id), lambda: self._load(org, last_id)
        )
        remembered_here = self._replays.setdefault(org, {})
        if warm and len(remembered_here) < REPLAYS_REMEMBERED:
            remembered_here[last_id] = result
        return result

    async def _load(self, org: uuid.UUID, last_id: uuid.UUID) -> Replay:
        async with self._pool.acquire() as conn:
            anchor = await conn.fetchval(load_sql("snapshot_anchor"), org, last_id)
            if anchor is None:
                latest = await conn.fetch(load_sql("latest_snapshots"), [org])
                return Replay([frame_of(r) for r in latest], reset=True, missed=None)
            rows = await conn.fetch(load_sql("snapshots_after"), org, anchor, self._replay_max)
        if not rows:
            return Replay([])
        total = int(rows[0]["total"])
        if total > self._replay_max:
            newest = await self.latest(org, warm=False)
            return Replay([newest] if newest else [], reset=True, missed=total)
        return Replay([frame_of(r) for r in rows])

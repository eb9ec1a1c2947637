"""The hub: each organization's latest snapshot in memory, its frame encoded once, and the
subscribers that receive the very same bytes, one bounded latest-wins slot each."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime

from atum_metrics.wire import Wire, chunk

RETRY_MS = 3000
# Recent frames kept per organization so that reconnecting clients replay from memory.
RECENT_FRAMES = 8


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    """One snapshot, encoded once: its JSON (for /live) and its SSE event (for streams)."""

    organization_id: uuid.UUID
    id: uuid.UUID
    snapshot_ts: datetime
    body: bytes
    event: bytes
    chunk: bytes  # ``event`` framed as an HTTP chunk, for direct writes
    notified_at: float | None = None  # loop time its NOTIFY arrived, when it came by NOTIFY

    @classmethod
    def build(
        cls,
        organization_id: uuid.UUID,
        snapshot_id: uuid.UUID,
        snapshot_ts: datetime,
        body: str,
        notified_at: float | None = None,
    ) -> Frame:
        data = body.encode()
        event = b"event: snapshot\nid: %s\ndata: %s\n\n" % (str(snapshot_id).encode(), data)
        return cls(
            organization_id, snapshot_id, snapshot_ts, data, event, chunk(event), notified_at
        )


class StreamsFull(Exception):
    """The organization already has its maximum of open streams."""


class Subscriber:
    """One open stream: a slot for the newest undelivered frame, and flags to wake it for."""

    __slots__ = (
        "closed",
        "dropped",
        "expires_at",
        "last_ts",
        "organization_id",
        "pending",
        "ping",
        "sending_since",
        "task",
        "waiter",
        "wire",
    )

    def __init__(self, organization_id: uuid.UUID, expires_at: float = float("inf")) -> None:
        self.organization_id = organization_id
        self.expires_at = expires_at  # wall-clock seconds: the token's exp
        self.last_ts: datetime | None = None  # the newest snapshot written to this stream
        self.wire: Wire | None = None
        self.pending: Frame | None = None
        self.ping = False
        self.closed = False
        self.dropped = False
        self.waiter: asyncio.Future[None] | None = None
        self.sending_since: float | None = None
        self.task: asyncio.Task[object] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        self.wake()

    async def wait(self) -> None:
        """Until there is something to do (a frame, a ping, or closing)."""
        if self.pending is not None or self.ping or self.closed:
            return
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


class Hub:
    def __init__(
        self, max_per_org: int, on_sent: Callable[[Frame, int], None] | None = None
    ) -> None:
        self._max_per_org = max_per_org
        self._on_sent = on_sent
        self.latest: dict[uuid.UUID, Frame] = {}
        self.missing: set[uuid.UUID] = set()  # asked for, known to have no snapshot yet
        self._recent: dict[uuid.UUID, deque[Frame]] = {}
        self._subscribers: dict[uuid.UUID, set[Subscriber]] = {}
        self.count = 0
        self.closed_total = 0
        self.closing = False

    def publish(self, frame: Frame) -> bool:
        """Make ``frame`` the organization's latest and hand it to its subscribers.

        Frames older than (or the same as) the latest are ignored, so that a resync or a slow
        query never moves an organization backwards. Returns whether the frame was new.
        """
        org = frame.organization_id
        current = self.latest.get(org)
        if current is not None and (
            current.snapshot_ts >= frame.snapshot_ts or current.id == frame.id
        ):
            return False
        self.latest[org] = frame
        self.missing.discard(org)
        recent = self._recent.get(org)
        if recent is None:
            recent = self._recent[org] = deque(maxlen=RECENT_FRAMES)
        recent.append(frame)
        written = 0
        for subscriber in self._subscribers.get(org, ()):
            if self._write(subscriber, frame):
                written += 1
            else:
                subscriber.pending = frame
                subscriber.wake()
        if written and self._on_sent is not None:
            self._on_sent(frame, written)
        return True

    @staticmethod
    def _write(subscriber: Subscriber, frame: Frame) -> bool:
        """Write ``frame`` straight to an idle stream's socket; False if it must wait its turn."""
        wire = subscriber.wire
        if (
            wire is None
            or subscriber.pending is not None
            or subscriber.sending_since is not None
            or (subscriber.last_ts is not None and frame.snapshot_ts <= subscriber.last_ts)
            or not wire.write(frame.chunk)
        ):
            return False
        subscriber.last_ts = frame.snapshot_ts
        return True

    def mark_missing(self, org: uuid.UUID) -> None:
        if org not in self.latest:
            self.missing.add(org)

    def forget_recent(self) -> None:
        """After missing announcements, the recent frames may have gaps: drop them."""
        for org, recent in self._recent.items():
            recent.clear()
            if org in self.latest:
                recent.append(self.latest[org])

    def recent_after(self, org: uuid.UUID, snapshot_id: uuid.UUID) -> list[Frame] | None:
        """Frames after ``snapshot_id`` from memory, or None when it is not among them."""
        recent = self._recent.get(org, ())
        for index, frame in enumerate(recent):
            if frame.id == snapshot_id:
                return list(recent)[index + 1 :]
        return None

    def since(self, frame: Frame, after: datetime) -> list[Frame]:
        """``frame`` preceded by the recent frames after time ``after``, oldest first: a reader
        a few frames behind gets each of them; one further behind skips to the newest."""
        recent = self._recent.get(frame.organization_id)
        if not recent or recent[-1] is not frame:
            return [frame]
        frames: list[Frame] = []
        for each in reversed(recent):
            if each.snapshot_ts <= after:
                break
            frames.append(each)
        frames.reverse()
        return frames

    def subscribe(self, org: uuid.UUID, expires_at: float = float("inf")) -> Subscriber:
        subscribers = self._subscribers.setdefault(org, set())
        if len(subscribers) >= self._max_per_org:
            raise StreamsFull(org)
        subscriber = Subscriber(org, expires_at)
        subscribers.add(subscriber)
        self.count += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(subscriber.organization_id)
        if subscribers is not None and subscriber in subscribers:
            subscribers.remove(subscriber)
            self.count -= 1
            self.closed_total += 1
            if not subscribers:
                del self._subscribers[subscriber.organization_id]

    def subscribed_organizations(self) -> list[uuid.UUID]:
        return list(self._subscribers)

    def all_subscribers(self) -> list[Subscriber]:
        return [s for group in self._subscribers.values() for s in group]

    def ping_all(self, ping_chunk: bytes) -> None:
        for subscriber in self.all_subscribers():
            wire = subscriber.wire
            idle = subscriber.pending is None and subscriber.sending_since is None
            if not (idle and wire is not None and wire.write(ping_chunk)):
                subscriber.ping = True
                subscriber.wake()

    def close_all(self) -> None:
        """Close every stream (shutdown); new streams are refused from now on."""
        self.closing = True
        for subscriber in self.all_subscribers():
            subscriber.close()

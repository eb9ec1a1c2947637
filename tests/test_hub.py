"""The hub in memory: latest wins, frames shared, never backwards, caps per organization."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from atum_metrics.hub import Frame, Hub, StreamsFull

ORG = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def frame(minute: int, org: uuid.UUID = ORG) -> Frame:
    snapshot_id = uuid.uuid4()
    return Frame.build(org, snapshot_id, T0 + timedelta(minutes=minute), f'{{"m":{minute}}}')


def test_frame_is_one_sse_event_with_the_snapshot_id() -> None:
    f = frame(1)
    assert f.event == b'event: snapshot\nid: %s\ndata: {"m":1}\n\n' % str(f.id).encode()
    assert f.body == b'{"m":1}'


async def test_slow_subscriber_holds_only_the_newest_frame_and_shares_its_bytes() -> None:
    hub = Hub(max_per_org=10)
    slow, other = hub.subscribe(ORG), hub.subscribe(ORG)
    frames = [frame(m) for m in range(50)]
    for f in frames:
        hub.publish(f)
    assert slow.pending is frames[-1] and other.pending is frames[-1]
    assert slow.pending.event is other.pending.event  # encoded once, the same bytes object
    await asyncio.wait_for(slow.wait(), 1)  # something to do: returns at once
    # A reader one frame behind gets the frames it missed from the recent ones, in order.
    assert hub.since(frames[-1], frames[-4].snapshot_ts) == frames[-3:]
    # One further behind than the recent frames kept skips to what is kept.
    assert len(hub.since(frames[-1], frames[0].snapshot_ts)) < 10


def test_publish_never_goes_backwards() -> None:
    hub = Hub(max_per_org=10)
    newer, older = frame(5), frame(1)
    assert hub.publish(newer)
    assert not hub.publish(older)
    assert not hub.publish(newer)
    assert hub.latest[ORG] is newer


async def test_wait_wakes_on_publish_ping_and_close() -> None:
    hub = Hub(max_per_org=10)
    sub = hub.subscribe(ORG)
    waiting = asyncio.create_task(sub.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    hub.publish(frame(1, uuid.uuid4()))  # another organization's frame
    await asyncio.sleep(0)
    assert not waiting.done() and sub.pending is None
    hub.publish(frame(2))
    await asyncio.wait_for(waiting, 1)
    sub.pending = None
    waiting = asyncio.create_task(sub.wait())
    await asyncio.sleep(0)
    hub.ping_all(b"")
    await asyncio.wait_for(waiting, 1)
    assert sub.ping
    hub.close_all()
    assert sub.closed and hub.closing


def test_cap_per_organization_and_unsubscribe_frees_a_place() -> None:
    hub = Hub(max_per_org=2)
    first, _second = hub.subscribe(ORG), hub.subscribe(ORG)
    with pytest.raises(StreamsFull):
        hub.subscribe(ORG)
    hub.subscribe(uuid.uuid4())  # other organizations are not affected
    hub.unsubscribe(first)
    hub.subscribe(ORG)
    assert hub.count == 3


def test_recent_after_replays_from_memory_only_when_the_id_is_known() -> None:
    hub = Hub(max_per_org=2)
    frames = [frame(m) for m in range(3)]
    for f in frames:
        hub.publish(f)
    assert hub.recent_after(ORG, frames[0].id) == frames[1:]
    assert hub.recent_after(ORG, frames[2].id) == []
    assert hub.recent_after(ORG, uuid.uuid4()) is None
    hub.forget_recent()
    assert hub.recent_after(ORG, frames[0].id) is None
    assert hub.recent_after(ORG, frames[2].id) == []

"""Telemetry: the Prometheus metrics of one app, in its own registry (never the global one)."""

from __future__ import annotations

import asyncio
import bisect
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from atum_metrics.hub import Frame
from atum_metrics.snapshots import Cycle

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WeightedHistogram(Collector):
    """A histogram that takes n equal observations at once: one frame written to thousands of
    streams in the same instant is one call, not thousands (prometheus-client has no weight)."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self._name, self._doc, self._bounds = name, documentation, buckets
        self._counts = [0] * (len(buckets) + 1)
        self._sum = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        self._counts[bisect.bisect_left(self._bounds, value)] += times
        self._sum += value * times

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative, buckets = 0, []
        for bound, count in zip(self._bounds, self._counts, strict=False):
            cumulative += count
            buckets.append((repr(bound), cumulative))
        buckets.append(("+Inf", cumulative + self._counts[-1]))
        yield HistogramMetricFamily(self._name, self._doc, buckets=buckets, sum_value=self._sum)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.streams_open = Gauge("atum_sse_streams_open", "Open SSE streams", registry=r)
        self.events_sent = Counter(
            "atum_sse_events_sent", "Snapshot events written to SSE streams", registry=r
        )
        self.notify_to_send = WeightedHistogram(
            "atum_notify_to_send_seconds",
            "From a snapshot's NOTIFY reaching the server to its frame written to a stream",
            LATENCY_BUCKETS,
        )
        r.register(self.notify_to_send)
        self.listener_reconnects = Counter(
            "atum_listener_reconnects", "Times the LISTEN connection was re-established", registry=r
        )
        self.streams_dropped = Counter(
            "atum_sse_streams_dropped", "Streams dropped for accepting nothing in time", registry=r
        )
        self.worker_cycle = Histogram(
            "atum_worker_cycle_seconds",
            "Duration of a worker cycle (in-process worker only)",
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        self.gc_pause = Histogram(
            "atum_gc_pause_seconds",
            "Garbage collection pauses by generation",
            ["generation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._gc_started = 0.0

    def observe_cycle(self, cycle: Cycle, seconds: float) -> None:
        """The worker's ``on_cycle`` hook."""
        self.worker_cycle.observe(seconds)

    def frames_sent(self, frame: Frame, streams: int) -> None:
        """``frame`` was just written to ``streams`` streams."""
        self.events_sent.inc(streams)
        if frame.notified_at is not None:
            delay = asyncio.get_running_loop().time() - frame.notified_at
            self.notify_to_send.observe(delay, streams)

    def track_streams(self, count: Callable[[], float]) -> None:
        self.streams_open.set_function(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._gc_started
            self.gc_pause.labels(str(info["generation"])).observe(pause)

    def watch_gc(self) -> Callable[[], None]:
        """Time every collection; returns the function that stops it."""
        gc.callbacks.append(self._on_gc)
        return lambda: gc.callbacks.remove(self._on_gc)

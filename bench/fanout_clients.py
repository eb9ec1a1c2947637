"""Client processes for bench/fanout.py: SSE streams, /live pollers, /live load. Reads one JSON
command per line on stdin and answers one JSON line on stdout."""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

MARK = b"\nid: "  # in our frames and in sse-starlette's (which puts id first, lines end \r\n)
PATH = os.environ.get("FANOUT_PATH", "/api/v1/metrics/stream").encode()
ID_LEN = 36
SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]  # more source addresses, more client ports
HANDSHAKES = 1000


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class SseConn(asyncio.Protocol):
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.tail = b""
        self.ids: list[bytes] = []
        self.times: list[float] = []
        self.first = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.tail + data
        pos = 0
        while True:
            i = buf.find(MARK, pos)
            if i < 0:
                self.tail = buf[max(pos, len(buf) - len(MARK)) :]
                break
            end = i + len(MARK) + ID_LEN
            if end > len(buf):
                self.tail = buf[i:]
                break
            self.ids.append(buf[i + len(MARK) : end])
            self.times.append(now)
            pos = end
        if self.times and not self.first.done():
            self.first.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.first.done():
            self.first.set_exception(ConnectionError("closed before a snapshot"))


class Streams:
    def __init__(self, base: str, tokens: dict[str, list[str]], n: int) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.tokens = tokens["orgs"]
        self.n = n
        self.conns: list[SseConn] = []

    def _request(self, i: int, last_id: bytes | None = None) -> bytes:
        extra = b"Last-Event-ID: %s\r\n" % last_id if last_id else b""
        return b"GET /api/v1/metrics/stream?access_token=%s HTTP/1.1\r\nHost: bench\r\n%s\r\n" % (
            self.tokens[i % len(self.tokens)].encode(),
            extra,
        )

    async def _open(self, requests: list[bytes]) -> tuple[float, list[SseConn]]:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(HANDSHAKES)
        started = time.monotonic()

        async def one(i: int, request: bytes) -> SseConn:
            async with gate:
                _, conn = await loop.create_connection(
                    lambda: SseConn(request),
                    self.host,
                    self.port,
                    local_addr=(SOURCES[i % len(SOURCES)], 0),
                )
                await conn.first
                return conn

        conns = await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
        return time.monotonic() - started, list(conns)

    async def connect(self) -> dict[str, object]:
        seconds, self.conns = await self._open([self._request(i) for i in range(self.n)])
        return {"seconds": seconds}

    def report(self, commits: list[float]) -> dict[str, object]:
        latencies = []
        for conn in self.conns:
            for t in conn.times[1:]:
                before = [c for c in commits if c <= t]
                if before:
                    latencies.append((t - before[-1]) * 1000)
        return {
            "received": len(latencies),
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies, default=float("nan")),
        }

    async def reconnect(self) -> dict[str, object]:
        """Everyone drops and comes back asking for what followed its second-to-last id."""
        last = [conn.ids[-2] for conn in self.conns]
        for conn in self.conns:
            assert conn.transport is not None
            conn.transport.close()
        await asyncio.sleep(1)
        seconds, self.conns = await self._open([self._request(i, last[i]) for i in range(self.n)])
        await asyncio.sleep(0.5)
        return {"seconds": seconds, "replayed": sum(len(c.ids) for c in self.conns)}

    def close(self) -> None:
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()


async def http_get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, headers: str
) -> tuple[int, dict[str, str]]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{headers}\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    length = int(fields.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, fields


class Pollers:
    def __init__(self, base: str, tokens: dict[str, list[str]], n: int) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.tokens = tokens["orgs"]
        self.n = n
        self.changes: list[list[float]] = [[] for _ in range(n)]
        self.requests = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.started = 0.0

    async def _poll(self, i: int) -> None:
        await asyncio.sleep(random.random() * 5)
        source = (SOURCES[i % len(SOURCES)], 0)
        auth = f"Authorization: Bearer {self.tokens[i % len(self.tokens)]}\r\n"
        etag = None
        conn = None
        while True:
            cond = f"If-None-Match: {etag}\r\n" if etag else ""
            try:
                # uvicorn closes idle keep-alive connections after 5 s: reconnect, as browsers do.
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port, local_addr=source)
                status, fields = await http_get(*conn, "/api/v1/metrics/live", auth + cond)
            except (OSError, asyncio.IncompleteReadError):
                conn = None
                continue
            self.requests += 1
            if status == 200:
                if etag is not None:
                    self.changes[i].append(time.monotonic())
                etag = fields["etag"]
            await asyncio.sleep(5)

    def start(self) -> dict[str, object]:
        self.started = time.monotonic()
        self.tasks = [asyncio.create_task(self._poll(i)) for i in range(self.n)]
        return {}

    def report(self, commits: list[float]) -> dict[str, object]:
        elapsed = time.monotonic() - self.started
        stale = []
        for seen in self.changes:
            for c in commits:
                after = [t for t in seen if t > c]
                if after:
                    stale.append((after[0] - c) * 1000)
        for task in self.tasks:
            task.cancel()
        return {
            "p50_ms": percentile(stale, 0.5),
            "p99_ms": percentile(stale, 0.99),
            "requests_per_s": self.requests / elapsed,
            "requests": self.requests,
            "elapsed": elapsed,
            "failed": sum(
                1 for t in self.tasks if t.done() and not t.cancelled() and t.exception()
            ),
            "first_error": next(
                (
                    repr(t.exception())
                    for t in self.tasks
                    if t.done() and not t.cancelled() and t.exception()
                ),
                None,
            ),
            "observed": len(stale),
        }


async def live_load(
    base: str, tokens: dict[str, list[str]], conns: int, unique: bool, seconds: float
) -> dict[str, object]:
    url = urlsplit(base)
    pool = tokens["unique"] if unique else tokens["orgs"]
    counter = iter(range(10**9))
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker(i: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(
            url.hostname, url.port, local_addr=(SOURCES[i % len(SOURCES)], 0)
        )
        while time.monotonic() < deadline:
            token = pool[next(counter) % len(pool)]
            started = time.monotonic()
            status, _ = await http_get(
                reader, writer, "/api/v1/metrics/live", f"Authorization: Bearer {token}\r\n"
            )
            latencies.append((time.monotonic() - started) * 1000)
            errors += status != 200
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(conns)))
    elapsed = time.monotonic() - started
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "errors": errors,
    }


async def serve(mode: str, base: str, token_file: str, size: str, *extra: str) -> None:
    tokens = json.loads(Path(token_file).read_text())  # noqa: ASYNC240 (start-up, once)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    target: Streams | Pollers | None = None
    if mode == "streams":
        target = Streams(base, tokens, int(size))
    elif mode == "poll":
        target = Pollers(base, tokens, int(size))
    while line := await reader.readline():
        command = json.loads(line)
        cmd = command["cmd"]
        answer: dict[str, object] = {}
        if cmd == "quit":
            if isinstance(target, Streams):
                target.close()
            print("{}", flush=True)
            return
        if cmd == "connect" and isinstance(target, Streams):
            answer = await target.connect()
        elif cmd == "reconnect" and isinstance(target, Streams):
            answer = await target.reconnect()
        elif cmd == "start" and isinstance(target, Pollers):
            answer = target.start()
        elif cmd == "report" and target is not None:
            answer = target.report(command["commits"])
        elif cmd == "run":
            answer = await live_load(
                base, tokens, int(size), extra[0] == "unique", command["seconds"]
            )
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    import uvloop

    uvloop.run(serve(*sys.argv[1:]))

"""A real server for tests: ``create_app`` under uvicorn on a free port, in a background thread
with its own event loop, and a small SSE reader for streams read over the network."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx

from atum_metrics.server import run_server
from atum_metrics.settings import Settings
from atum_metrics.telemetry import Telemetry

START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclasses.dataclass
class ServerThread:
    """A server running in a thread; ``stop()`` ends it like SIGTERM would."""

    base_url: str
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    stop_event: asyncio.Event
    telemetry: Telemetry
    error: list[BaseException]

    def stop(self, timeout: float = 10.0) -> float:
        """Set the stop event; return the seconds the server took to return."""
        started = time.monotonic()
        with contextlib.suppress(RuntimeError):  # the loop already ended
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"the server did not stop within {timeout} s")
        return time.monotonic() - started


def start_server(settings: Settings) -> ServerThread:
    port = free_port()
    ready = threading.Event()
    holder: dict[str, object] = {}
    error: list[BaseException] = []
    telemetry = Telemetry()

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        ready.set()
        await run_server(settings, "127.0.0.1", port, stop, telemetry)

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            error.append(exc)
            ready.set()

    thread = threading.Thread(target=target, name=f"atum-server-{port}", daemon=True)
    thread.start()
    ready.wait(START_TIMEOUT)
    if error:
        raise error[0]
    server = ServerThread(
        f"http://127.0.0.1:{port}",
        thread,
        holder["loop"],  # type: ignore[arg-type]
        holder["stop"],  # type: ignore[arg-type]
        telemetry,
        error,
    )
    _wait_ready(server)
    return server


def _wait_ready(server: ServerThread) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.error:
            raise server.error[0]
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base_url + "/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.05)
    server.stop()
    raise AssertionError("the server did not become ready")


@contextlib.contextmanager
def running_server(settings: Settings) -> Iterator[ServerThread]:
    """A ready server for ``settings``; stopped on exit."""
    server = start_server(settings)
    try:
        yield server
    finally:
        server.stop()


@dataclasses.dataclass
class Event:
    event: str | None
    id: str | None
    data: str | None
    comments: list[str]


class SseReader:
    """Reads events (and comments) from a streamed httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.retry: int | None = None

    async def next(self, seconds: float = 10.0) -> Event:
        """The next event or comment block; a bare ``retry:`` block is noted in ``retry``."""
        fields: dict[str, str] = {}
        comments: list[str] = []
        async with asyncio.timeout(seconds):
            async for line in self._lines:
                if line == "":
                    if set(fields) == {"retry"} and not comments:
                        self.retry = int(fields.pop("retry"))
                    if fields or comments:
                        return Event(
                            fields.get("event"), fields.get("id"), fields.get("data"), comments
                        )
                    continue
                if line.startswith(":"):
                    comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    async def next_event(self, kind: str = "snapshot", seconds: float = 10.0) -> Event:
        """The next event of ``kind``, skipping comments."""
        async with asyncio.timeout(seconds):
            while True:
                event = await self.next(seconds)
                if event.event == kind:
                    return event


@contextlib.asynccontextmanager
async def open_stream(
    base_url: str,
    token: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[SseReader]:
    timeout = httpx.Timeout(10.0, read=None)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        client.stream(
            "GET",
            "/api/v1/metrics/stream",
            params=params,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        ) as response,
    ):
        yield SseReader(response)

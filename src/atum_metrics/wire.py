"""The wire: uvicorn's own connection under an ASGI ``send``, when it can be reached, so that
the hub writes a frame's pre-framed bytes straight to each socket (no task switch per client).

ASGI has no way to write without waking the stream's task, and at 10,000 streams that wake is
most of the cost (docs/benchmarks.md). Only uvicorn's httptools protocol is recognised; with
any other server, or when a socket's buffer is full, streams use plain ASGI ``send``.
"""

from __future__ import annotations

from typing import Any

# Above this many bytes waiting in user space, writes go through ASGI send (and its
# flow control): a slow reader then skips to the newest frame and is dropped when stalled.
WRITE_LIMIT = 64 * 1024
_CYCLE_MODULE = "uvicorn.protocols.http.httptools_impl"


def chunk(data: bytes) -> bytes:
    """``data`` framed as one HTTP/1.1 chunk (what uvicorn writes for a streamed body)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class Wire:
    __slots__ = ("_cycle",)

    def __init__(self, cycle: Any) -> None:
        self._cycle = cycle

    @classmethod
    def under(cls, send: object) -> Wire | None:
        """The wire of a started, chunked uvicorn response, or None."""
        cycle = getattr(send, "__self__", None)
        if cycle is None or type(cycle).__module__ != _CYCLE_MODULE:
            return None
        if getattr(cycle, "chunked_encoding", None) is not True:
            return None
        if not all(hasattr(cycle, a) for a in ("transport", "flow", "disconnected")):
            return None
        return cls(cycle)

    @property
    def gone(self) -> bool:
        cycle = self._cycle
        return bool(cycle.disconnected or cycle.transport.is_closing())

    def write(self, data: bytes) -> bool:
        """Write an already chunk-framed ``data`` now, or return False (use ASGI send)."""
        cycle = self._cycle
        transport = cycle.transport
        if (
            cycle.disconnected
            or cycle.response_complete
            or cycle.flow.write_paused
            or transport.get_write_buffer_size() > WRITE_LIMIT
        ):
            return False
        transport.write(data)
        return True

"""History: a span of one organization's snapshots, downsampled to ``max_points`` (CONTRACT 5)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from atum_metrics.errors import ApiError
from atum_metrics.resources import load_sql

DEFAULT_RANGE = "24h"
DEFAULT_MAX_POINTS = 1000
MAX_POINTS = 10_000
_RANGE = re.compile(r"^([1-9][0-9]{0,8})([mhd])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400}


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    range: str | None
    start: datetime
    end: datetime
    max_points: int


def _bad(code: str, detail: str) -> ApiError:
    return ApiError(400, code, detail)


def _instant(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _bad(f"bad_{name}", f"{name} is not an ISO-8601 date and time.") from None
    if value.tzinfo is None:
        raise _bad(f"bad_{name}", f"{name} needs a time zone (e.g. Z or +02:00).")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +14:00 falls before year 1 in UTC
        raise _bad(f"bad_{name}", f"{name} is out of range.") from None


def _max_points(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_MAX_POINTS
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_POINTS:
        raise _bad("bad_max_points", f"max_points must be a whole number from 1 to {MAX_POINTS}.")
    return int(raw)


def parse_span(params: Mapping[str, str], max_range: timedelta, now: datetime) -> Span:
    """The span asked for: ``range`` back from now, or ``from`` (and ``to``)."""
    raw_range, raw_from, raw_to = params.get("range"), params.get("from"), params.get("to")
    max_points = _max_points(params.get("max_points"))
    if raw_range is not None and (raw_from is not None or raw_to is not None):
        raise _bad("bad_range", "Give either range, or from with an optional to; not both.")
    if raw_to is not None and raw_from is None:
        raise _bad("bad_range", "to needs from.")
    if raw_from is None:
        text = DEFAULT_RANGE if raw_range is None else raw_range.strip()
        match = _RANGE.match(text)
        if match is None:
            raise _bad("bad_range", "range is a positive whole number with m, h or d, e.g. 24h.")
        length = timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])
        if length > max_range:
            raise _bad("bad_range", f"range is longer than the maximum of {_human(max_range)}.")
        return Span(text, now - length, now, max_points)
    start = _instant("from", raw_from)
    end = now if raw_to is None else _instant("to", raw_to)
    if start >= end:
        raise _bad("bad_range", "from must be before to.")
    if end - start > max_range:
        raise _bad(
            "bad_range", f"The span from..to is longer than the maximum of {_human(max_range)}."
        )
    return Span(None, start, end, max_points)


def _human(span: timedelta) -> str:
    """``90d``, ``36h`` or ``90m``: a span the way ``range`` is written."""
    seconds = int(span.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % _UNIT[unit] == 0:
            return f"{seconds // _UNIT[unit]}{unit}"
    return f"{seconds}s"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def history(pool: asyncpg.Pool, org: uuid.UUID, span: Span) -> bytes:
    """The response body: items built as JSON in SQL, joined without re-encoding."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(load_sql("history"), org, span.start, span.end, span.max_points)
    return orjson.dumps(
        {
            "organization_id": str(org),
            "range": span.range,
            "from": iso(span.start),
            "to": iso(span.end),
            "items": [orjson.Fragment(row["body"]) for row in rows],
        }
    )

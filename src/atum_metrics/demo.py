"""Demo data: a few organizations with agents and realistic tickets, and a simulator."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from datetime import UTC, datetime

import asyncpg

from atum_metrics.resources import load_sql
from atum_metrics.worker import DB_ERRORS, wait_or_stop

logger = logging.getLogger(__name__)

DEMO_ORGANIZATIONS = ("Demo Acme Support", "Demo Globex Helpdesk", "Demo Initech IT")
SIMULATOR_STEP_SECONDS = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Organization:
    id: uuid.UUID
    name: str


async def create_organizations(
    conn: asyncpg.Connection,
    names: list[str],
    *,
    agents: int = 6,
    tickets: int = 400,
    days: int = 14,
    now: datetime | None = None,
) -> list[Organization]:
    """Create organizations with ``agents`` agents each (the last inactive) and their tickets."""
    async with conn.transaction():
        rows = await conn.fetch(load_sql("seed_organizations"), names, agents)
        orgs = [Organization(id=r["id"], name=r["name"]) for r in rows]
        if tickets:
            await conn.execute(
                load_sql("seed_tickets"),
                [o.id for o in orgs],
                tickets,
                days,
                now or datetime.now(UTC),
            )
    return orgs


async def demo_organizations(conn: asyncpg.Connection) -> list[Organization]:
    rows = await conn.fetch(
        "SELECT id, name FROM organizations WHERE name = ANY($1::text[]) ORDER BY name",
        list(DEMO_ORGANIZATIONS),
    )
    return [Organization(id=r["id"], name=r["name"]) for r in rows]


async def seed_demo(conn: asyncpg.Connection) -> list[Organization]:
    """Create the demo organizations once; later calls return the existing ones."""
    existing = await demo_organizations(conn)
    if existing:
        return existing
    return await create_organizations(conn, list(DEMO_ORGANIZATIONS))


async def simulate(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """Move demo tickets along every few seconds until ``stop`` is set."""
    step = load_sql("simulate_step")
    while not await wait_or_stop(stop, SIMULATOR_STEP_SECONDS):
        try:
            async with pool.acquire() as conn:
                await conn.execute(step)
        except DB_ERRORS as exc:
            logger.warning("demo simulator step failed: %s", exc)

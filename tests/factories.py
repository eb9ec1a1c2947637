"""Hand-made helpdesk rows for tests: organizations, agents and tickets with exact times."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def organization(conn: asyncpg.Connection, name: str = "Org") -> uuid.UUID:
    org_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO organizations (name) VALUES ($1) RETURNING id", name
    )
    return org_id


async def agent(
    conn: asyncpg.Connection, org: uuid.UUID, handle: str, *, active: bool = True
) -> uuid.UUID:
    agent_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO agents (organization_id, handle, active) VALUES ($1, $2, $3) RETURNING id",
        org,
        handle,
        active,
    )
    return agent_id


async def ticket(
    conn: asyncpg.Connection,
    org: uuid.UUID,
    *,
    created_at: datetime,
    status: str = "open",
    priority: str = "medium",
    assignee: uuid.UUID | None = None,
    first_response_at: datetime | None = None,
    resolved_at: datetime | None = None,
    closed_at: datetime | None = None,
    first_response_due_at: datetime | None = None,
    resolution_due_at: datetime | None = None,
) -> uuid.UUID:
    ticket_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO tickets (organization_id, status, priority, assignee_id, created_at,
                             first_response_at, resolved_at, closed_at,
                             first_response_due_at, resolution_due_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
        """,
        org,
        status,
        priority,
        assignee,
        created_at,
        first_response_at,
        resolved_at,
        closed_at,
        first_response_due_at,
        resolution_due_at,
    )
    return ticket_id


def percentile_cont(values: list[float], fraction: float) -> float:
    """Postgres's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])

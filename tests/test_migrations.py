"""Migrations apply in order, once, and safely when two run at the same time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from atum_metrics import migrations
from tests.conftest import with_dbname


@pytest.fixture
async def empty_database_url(pg_server_url: str) -> AsyncIterator[str]:
    name = f"atum_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield with_dbname(pg_server_url, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def _migrate(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await migrations.migrate(conn)
    finally:
        await conn.close()


async def test_migrating_twice_applies_everything_once(empty_database_url: str) -> None:
    expected = [p.stem for p in migrations.migration_files()]
    assert await _migrate(empty_database_url) == expected
    assert await _migrate(empty_database_url) == []
    conn = await asyncpg.connect(empty_database_url)
    recorded = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    indexes = await conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_metrics_snapshots_org_ts'"
    )
    await conn.close()
    assert [r["version"] for r in recorded] == expected
    assert indexes == 1


async def test_two_migrations_at_once_apply_each_file_once(empty_database_url: str) -> None:
    first, second = await asyncio.gather(_migrate(empty_database_url), _migrate(empty_database_url))
    expected = [p.stem for p in migrations.migration_files()]
    # One of them did all the work; the other found nothing left to do.
    assert sorted([first, second], key=len) == [[], expected]

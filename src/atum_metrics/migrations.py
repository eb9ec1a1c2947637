"""Apply ``sql/migrations/*.sql`` in order, once each, recorded in ``schema_migrations``."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

from atum_metrics.resources import resource_dir

logger = logging.getLogger(__name__)

# Serializes concurrent `migrate` runs (two processes starting at once); any constant works as
# long as every migrator uses the same one.
MIGRATION_LOCK_KEY = 0x6174756D_0001


def migration_files() -> list[Path]:
    return sorted((resource_dir("sql") / "migrations").glob("*.sql"))


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations not yet recorded; return the versions applied now."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied: list[str] = []
        for path in migration_files():
            if path.stem in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", path.stem)
            logger.info("applied migration %s", path.stem)
            applied.append(path.stem)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)

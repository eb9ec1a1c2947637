"""Connections to Postgres: which database, and how we open connections to it."""

from __future__ import annotations

import asyncpg

from atum_metrics.embedded import embedded_url
from atum_metrics.settings import Settings

# Short timeouts: a database that is away should be noticed, logged and retried, not waited on.
CONNECT_TIMEOUT = 5.0


def session_settings(application_name: str) -> dict[str, str]:
    """Per-connection settings. JIT is off: our statements are short, and on the snapshot
    statement JIT compilation alone took 1.4 s of a 1.5 s run (EXPLAIN ANALYZE, Postgres 15)."""
    return {"application_name": application_name, "TimeZone": "UTC", "jit": "off"}


def with_database(settings: Settings) -> Settings:
    """Settings whose ``database_url`` is set: the configured one, or the embedded cluster's."""
    if settings.database_url:
        return settings
    return settings.replace(database_url=embedded_url(settings.data_dir))


def primary_url(settings: Settings) -> str:
    if not settings.database_url:
        raise RuntimeError("database_url is not resolved; call with_database() first")
    return settings.database_url


def read_url(settings: Settings) -> str:
    """The read replica for history and export reads, or the primary."""
    return settings.read_database_url or primary_url(settings)


# Server-side TCP keep-alives: a client cut off by the network is noticed by Postgres in about
# 10 + 5 * 4 = 30 s, which frees the advisory locks it held (ignored on Unix sockets).
KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "4",
}


async def connect(
    url: str, *, application_name: str, keepalives: bool = False
) -> asyncpg.Connection:
    settings = session_settings(application_name)
    if keepalives:
        settings.update(KEEPALIVES)
    conn: asyncpg.Connection = await asyncpg.connect(
        url, timeout=CONNECT_TIMEOUT, server_settings=settings
    )
    return conn


async def create_pool(
    url: str, *, application_name: str, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=CONNECT_TIMEOUT,
        server_settings=session_settings(application_name),
    )
    return pool

"""Shared fixtures: a real Postgres (ATUM_TEST_DATABASE_URL, else an embedded cluster) and a
fresh, migrated database per test, cloned from a template migrated once per session."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from atum_metrics import migrations
from atum_metrics.embedded import PgServerCluster
from atum_metrics.settings import Settings


def with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The admin URL of the Postgres that tests use."""
    configured = os.environ.get("ATUM_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Not under pytest's basetemp: pytest deletes old basetemps when another session starts,
    # which would pull the data folder from under a suite still running beside it.
    folder = Path(tempfile.mkdtemp(prefix="atum-test-pg-"))
    cluster = PgServerCluster(folder / "data", keep_running=False)
    try:
        yield cluster.url()
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def template_name(pg_server_url: str) -> Iterator[str]:
    name = f"atum_template_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg_server_url, f'CREATE DATABASE "{name}"'))
    asyncio.run(_migrate(with_dbname(pg_server_url, name)))
    yield name
    asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_database(pg_server_url: str, template_name: str) -> str:
    name = f"atum_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    return name


def drop_database(pg_server_url: str, name: str) -> None:
    asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(pg_server_url: str, template_name: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = make_database(pg_server_url, template_name)
    yield with_dbname(pg_server_url, name)
    drop_database(pg_server_url, name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        snapshot_interval=1.0,
        jwt_secret="test-secret-" + "x" * 32,
    )


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url, server_settings={"TimeZone": "UTC"})
    yield connection
    await connection.close()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The base URL of a real server (uvicorn on a free port) over the test's database."""
    from tests.live_server import running_server

    with running_server(settings) as server:
        yield server.base_url

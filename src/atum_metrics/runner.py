"""``atum-metrics up``: the main job in one process (migrate, worker, server, demo simulator)."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

import asyncpg

from atum_metrics import database, demo, migrations, tokens
from atum_metrics.cli import EXIT_FAILURE, EXIT_OK, run_async
from atum_metrics.retention import daily_hook
from atum_metrics.server import ServerError, run_server
from atum_metrics.settings import Settings
from atum_metrics.telemetry import Telemetry
from atum_metrics.worker import Worker

logger = logging.getLogger(__name__)

DEMO_TOKEN_TTL = timedelta(days=7)


def up(settings: Settings, host: str, port: int, *, demo: bool) -> int:
    settings = tokens.with_signing_key(settings)
    failed = False
    try:
        run_async(lambda stop: _up(settings, host, port, stop, with_demo=demo))
    except* ServerError as group:  # e.g. the port is taken; the TaskGroup wraps it
        logger.error("%s", group.exceptions[0])
        failed = True
    return EXIT_FAILURE if failed else EXIT_OK


async def _prepare(settings: Settings, host: str, port: int, *, with_demo: bool) -> None:
    conn = await database.connect(database.primary_url(settings), application_name="atum-up")
    try:
        applied = await migrations.migrate(conn)
        logger.info("migrations: %s", ", ".join(applied) or "none pending")
        if with_demo:
            orgs = await demo.seed_demo(conn)
            _print_demo_help(settings, host, port, orgs)
    finally:
        await conn.close()


def _print_demo_help(
    settings: Settings, host: str, port: int, orgs: list[demo.Organization]
) -> None:
    base = f"http://{host}:{port}"
    admin = tokens.mint_token(settings, orgs[0].id, admin=True, ttl=DEMO_TOKEN_TTL)
    tenant = tokens.mint_token(settings, orgs[0].id, admin=False, ttl=DEMO_TOKEN_TTL)
    lines = [
        "",
        f"atum-metrics demo: {len(orgs)} organizations, a new snapshot every "
        f"{settings.snapshot_interval:g} s",
        f"  dashboard (admin, all organizations): {base}/desk/dashboard#token={admin}",
        f"  live stream of {orgs[0].name}:",
        f"    curl -N -H 'Authorization: Bearer {tenant}' {base}/api/v1/metrics/stream",
        "  organizations: " + ", ".join(f"{o.name} {o.id}" for o in orgs),
        "  more tokens: atum-metrics token --org <organization id> [--admin]",
        "",
    ]
    print("\n".join(lines), file=sys.stdout, flush=True)


async def _up(
    settings: Settings, host: str, port: int, stop: asyncio.Event, *, with_demo: bool
) -> None:
    await _prepare(settings, host, port, with_demo=with_demo)
    telemetry = Telemetry()
    worker = Worker(settings, on_cycle=telemetry.observe_cycle, daily=daily_hook(settings))
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(worker.run(stop))
        tasks.create_task(run_server(settings, host, port, stop, telemetry))
        if with_demo:
            pool = await database.create_pool(
                database.primary_url(settings), application_name="atum-demo", max_size=2
            )
            tasks.create_task(_simulate(pool, stop))


async def _simulate(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    try:
        await demo.simulate(pool, stop)
    finally:
        await pool.close()

"""What each subcommand does, given parsed flags and validated settings."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from atum_metrics import database, demo, migrations
from atum_metrics.cli import EXIT_OK, UsageError, run_async
from atum_metrics.settings import Settings, parse_duration
from atum_metrics.worker import Worker

logger = logging.getLogger(__name__)


async def _migrate(settings: Settings) -> list[str]:
    conn = await database.connect(database.primary_url(settings), application_name="atum-migrate")
    try:
        return await migrations.migrate(conn)
    finally:
        await conn.close()


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = asyncio.run(_migrate(database.with_database(settings)))
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return EXIT_OK


def worker(args: argparse.Namespace, settings: Settings) -> int:
    from atum_metrics.retention import daily_hook

    settings = database.with_database(settings)
    job = Worker(settings, daily=daily_hook(settings))
    if args.once:
        cycle = asyncio.run(job.run_once())
        print(f"snapshot at {cycle.snapshot_ts.isoformat()}: {cycle.organizations} organizations")
        return EXIT_OK
    run_async(job.run)
    return EXIT_OK


async def _seed(settings: Settings) -> list[demo.Organization]:
    conn = await database.connect(database.primary_url(settings), application_name="atum-seed")
    try:
        await migrations.migrate(conn)
        return await demo.seed_demo(conn)
    finally:
        await conn.close()


def seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    for org in asyncio.run(_seed(database.with_database(settings))):
        print(f"{org.id}  {org.name}")
    return EXIT_OK


def db_url(args: argparse.Namespace, settings: Settings) -> int:
    print(database.primary_url(database.with_database(settings)))
    return EXIT_OK


def up(args: argparse.Namespace, settings: Settings) -> int:
    from atum_metrics import runner

    return runner.up(database.with_database(settings), args.host, args.port, demo=args.demo)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from atum_metrics import server

    server.serve(database.with_database(settings), args.host, args.port)
    return EXIT_OK


def token(args: argparse.Namespace, settings: Settings) -> int:
    import uuid

    try:
        org = uuid.UUID(args.org)
    except ValueError:
        raise UsageError(f"--org {args.org!r} is not a UUID") from None
    try:
        ttl = parse_duration(args.ttl)
    except ValueError as exc:
        raise UsageError(f"--ttl: {exc}") from None
    from atum_metrics import tokens

    # With no key configured, the same data-dir secret that `up` and `serve` use.
    signing = tokens.with_signing_key(settings)
    print(tokens.mint_token(signing, org, admin=args.admin, ttl=ttl))
    return EXIT_OK


def export(args: argparse.Namespace, settings: Settings) -> int:
    from atum_metrics import exporter

    return exporter.main(database.with_database(settings), date=args.date, out=args.out)


def analytics(args: argparse.Namespace, settings: Settings) -> int:
    from atum_metrics import analytics as duck

    return duck.main(settings, sql=args.sql, output_format=args.format, out=sys.stdout)


def maintain(args: argparse.Namespace, settings: Settings) -> int:
    from atum_metrics import retention

    return retention.main(database.with_database(settings))

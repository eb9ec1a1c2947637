"""atum-metrics: live helpdesk metrics pushed from Postgres (one subcommand per job)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from atum_metrics.settings import Settings, SettingsError, load_settings

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or configuration: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _port(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port (1-65535)")
    return int(raw)


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port to bind (default 8000)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="atum-metrics", description=__doc__)
    parser.add_argument("--database-url", help="primary Postgres URL (ATUM_DATABASE_URL)")
    parser.add_argument("--data-dir", help="embedded Postgres and exports (ATUM_DATA_DIR)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (ATUM_LOG_LEVEL)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    up = sub.add_parser("up", help="migrate, run the worker and the server in one process")
    up.add_argument("--demo", action="store_true", help="seed demo data and simulate tickets")
    _server_flags(up)
    sub.add_parser("migrate", help="apply the SQL in sql/ in order (idempotent)")
    worker = sub.add_parser("worker", help="the snapshot loop")
    worker.add_argument("--once", action="store_true", help="run one cycle and exit")
    worker.add_argument("--interval", help="seconds between cycles (ATUM_SNAPSHOT_INTERVAL)")
    serve = sub.add_parser("serve", help="the HTTP server")
    _server_flags(serve)
    token = sub.add_parser("token", help="print a signed JWT for an organization")
    token.add_argument("--org", required=True, help="organization UUID")
    token.add_argument("--admin", action="store_true", help="add the metrics:admin scope")
    token.add_argument("--ttl", default="1h", help="lifetime, e.g. 15m, 1h, 7d (default 1h)")
    sub.add_parser("seed-demo", help="create demo organizations, agents and tickets")
    sub.add_parser("db-url", help="print the database URL in use")
    export = sub.add_parser("export", help="one UTC day of snapshots to Parquet")
    export.add_argument("--date", help="YYYY-MM-DD (default: yesterday, UTC)")
    export.add_argument("--out", help="output folder (default ATUM_EXPORT_DIR)")
    analytics = sub.add_parser("analytics", help="read-only DuckDB SQL over the exports")
    analytics.add_argument("sql", nargs="?", help="SQL over the view metrics_snapshots")
    analytics.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sub.add_parser("maintain", help="create partitions ahead and apply retention")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        os.environ,
        database_url=args.database_url,
        data_dir=args.data_dir,
        log_level=args.log_level,
        snapshot_interval=getattr(args, "interval", None),
    )


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pgserver narrates every pg_ctl call at INFO; its warnings and errors still show.
    logging.getLogger("pgserver").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.log_level))
    )


def run_async(main: Callable[[asyncio.Event], Any]) -> Any:
    """Run ``main(stop)`` where SIGTERM and SIGINT set ``stop`` instead of killing the process."""

    async def runner() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    try:
        import uvloop  # comes with uvicorn[standard]; measurably faster at fan-out
    except ImportError:
        return asyncio.run(runner())
    return uvloop.run(runner())


def _handlers() -> dict[str, Callable[[argparse.Namespace, Settings], int]]:
    from atum_metrics import commands

    return {
        "up": commands.up,
        "migrate": commands.migrate,
        "worker": commands.worker,
        "serve": commands.serve,
        "token": commands.token,
        "seed-demo": commands.seed_demo,
        "db-url": commands.db_url,
        "export": commands.export,
        "analytics": commands.analytics,
        "maintain": commands.maintain,
    }


def main(argv: Sequence[str] | None = None) -> int:
    from atum_metrics.worker import DB_ERRORS

    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        _configure_logging(settings)
        return _handlers()[args.command](args, settings)
    except (SettingsError, UsageError) as exc:
        print(f"atum-metrics: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except DB_ERRORS as exc:
        print(f"atum-metrics: error: database: {exc}", file=sys.stderr)
        return EXIT_FAILURE

"""Fan-out benchmark: the real server (``atum-metrics serve``, one process) with N concurrent SSE
streams over M organizations, whole worker cycles committed at once, against the baseline a user
would otherwise run: clients polling ``/live`` every 5 s.

    python bench/fanout.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python bench/fanout.py --streams 1000,10000 --orgs 1000 --cycles 5

A scratch database ``atum_bench_<random>`` is created there and dropped. Clients run in a
separate process (uvloop, raw sockets) and time each frame's arrival on CLOCK_MONOTONIC, which
the driver also uses for each cycle's commit, so commit-to-client latency is comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from atum_metrics import migrations
from atum_metrics.demo import create_organizations
from atum_metrics.settings import Settings
from atum_metrics.snapshots import take_snapshots
from atum_metrics.tokens import mint_token

CLIENTS = Path(__file__).parent / "fanout_clients.py"
WINDOW = timedelta(hours=24)
TICK = os.sysconf("SC_CLK_TCK")


def with_dbname(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


class Client:
    """A client process speaking one JSON command and one JSON answer per line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CLIENTS), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def ask(self, command: dict[str, object]) -> dict[str, object]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if not line:
            raise RuntimeError("client process died")
        answer: dict[str, object] = json.loads(line)
        return answer

    async def close(self) -> None:
        await self.ask({"cmd": "quit"})
        await asyncio.to_thread(self.proc.wait, 30)


async def xacts(conn: asyncpg.Connection, name: str) -> int:
    await asyncio.sleep(1.2)  # backends flush their statistics at most every second
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    count: int = await conn.fetchval(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name
    )
    return count


async def cycle(conn: asyncpg.Connection) -> float:
    await take_snapshots(conn, WINDOW)
    return time.monotonic()  # the cycle's transaction has committed


async def gc_pauses(base: str) -> tuple[int, int]:
    """(collections, collections over 50 ms) from the server's own histogram."""
    async with httpx.AsyncClient(base_url=base) as http:
        text = (await http.get("/metrics")).text
    total = under = 0
    for line in text.splitlines():
        if line.startswith("atum_gc_pause_seconds_bucket"):
            value = int(float(line.rsplit(" ", 1)[1]))
            if 'le="+Inf"' in line:
                total += value
            elif 'le="0.05"' in line:
                under += value
    return total, total - under


async def run_streams(
    args: argparse.Namespace, conn: asyncpg.Connection, db: str, pid: int, n: int
) -> dict[str, object]:
    rss0 = proc_rss_kb(pid)
    gc0 = await gc_pauses(args.base)
    client = Client("streams", args.base, args.tokens, str(n))
    cpu_connect = proc_cpu_s(pid)
    connected = await client.ask({"cmd": "connect"})
    cpu_connect = proc_cpu_s(pid) - cpu_connect
    commits, cpu = [], []
    for _ in range(args.cycles):
        await asyncio.sleep(0.5)
        cpu_before = proc_cpu_s(pid)
        commits.append(await cycle(conn))
        await asyncio.sleep(args.gap)
        cpu.append(proc_cpu_s(pid) - cpu_before)
    report = await client.ask({"cmd": "report", "commits": commits})
    rss1 = proc_rss_kb(pid)
    before = await xacts(conn, db)
    reconnect = await client.ask({"cmd": "reconnect"})
    queries = await xacts(conn, db) - before - 1  # minus the statistics query itself
    gc1 = await gc_pauses(args.base)
    await client.close()
    return {
        "n": n,
        "connect_s": connected["seconds"],
        "connect_server_cpu_s": cpu_connect,
        "p50_ms": report["p50_ms"],
        "p99_ms": report["p99_ms"],
        "max_ms": report["max_ms"],
        "received": report["received"],
        "expected": n * args.cycles,
        "rss_per_stream_kb": (rss1 - rss0) / n,
        "cpu_per_cycle_s": sorted(cpu)[len(cpu) // 2],
        "reconnect_s": reconnect["seconds"],
        "reconnect_replayed": reconnect["replayed"],
        "reconnect_queries": queries,
        "gc_collections": gc1[0] - gc0[0],
        "gc_over_50ms": gc1[1] - gc0[1],
        "load": loadavg(),
    }


async def run_polling(
    args: argparse.Namespace, conn: asyncpg.Connection, db: str, n: int
) -> dict[str, object]:
    client = Client("poll", args.base, args.tokens, str(n))
    await client.ask({"cmd": "start"})
    await asyncio.sleep(6)  # every poller has its first answer
    before, started = await xacts(conn, db), time.monotonic()
    commits = []
    for _ in range(2):
        commits.append(await cycle(conn))
        await asyncio.sleep(6)
    queries = await xacts(conn, db) - before - 2 * 2 - 1  # minus the cycles' and our own
    elapsed = time.monotonic() - started
    report = await client.ask({"cmd": "report", "commits": commits})
    await client.close()
    return {
        "n": n,
        "p50_ms": report["p50_ms"],
        "p99_ms": report["p99_ms"],
        "requests_per_s": report["requests_per_s"],
        "queries_per_s": queries / elapsed,
        "debug": {
            k: report[k] for k in ("requests", "elapsed", "failed", "first_error", "observed")
        },
    }


async def run_live(args: argparse.Namespace, unique: bool) -> dict[str, object]:
    client = Client("live", args.base, args.tokens, "64", "unique" if unique else "shared")
    report = await client.ask({"cmd": "run", "seconds": args.live_seconds})
    await client.close()
    return {"unique_tokens": unique, **report}


async def sigterm_with_streams(
    args: argparse.Namespace, server: subprocess.Popen[bytes], n: int
) -> float:
    """Open ``n`` streams, send SIGTERM, and time the server's exit."""
    client = Client("streams", args.base, args.tokens, str(n))
    await client.ask({"cmd": "connect"})
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    await asyncio.to_thread(server.wait, 30)
    seconds = time.monotonic() - started
    await client.close()
    return seconds


def mint_tokens(path: Path, secret: str, orgs: list[uuid.UUID], extra: int) -> None:
    settings = Settings(jwt_secret=secret)
    org_tokens = [mint_token(settings, o, admin=False, ttl=timedelta(hours=4)) for o in orgs]
    fresh = [
        mint_token(settings, orgs[i % len(orgs)], admin=False, ttl=timedelta(hours=4, seconds=i))
        for i in range(extra)
    ]
    path.write_text(json.dumps({"orgs": org_tokens, "unique": fresh}))


async def seed(url: str, orgs: int) -> list[uuid.UUID]:
    conn = await asyncpg.connect(url)
    try:
        await migrations.migrate(conn)
        names = [f"Fanout {i:04d}" for i in range(orgs)]
        created = []
        for chunk in range(0, orgs, 250):
            created += await create_organizations(
                conn, names[chunk : chunk + 250], agents=5, tickets=20
            )
        await conn.execute("VACUUM ANALYZE")
        await take_snapshots(conn, WINDOW)
        return [o.id for o in created]
    finally:
        await conn.close()


def start_server(url: str, secret: str, port: int, variant: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ATUM_DATABASE_URL": url,
        "ATUM_JWT_SECRET": secret,
        "ATUM_SSE_MAX_PER_ORG": "100000",
        "ATUM_LOG_LEVEL": "WARNING",
    }
    # FANOUT_PROFILE=<file>: run the server under cProfile (figures are then not comparable).
    profile = os.environ.get("FANOUT_PROFILE")
    wrapper = ["-m", "cProfile", "-o", profile] if profile else []
    command = [sys.executable, *wrapper, "-m", "atum_metrics", "serve", "--port", str(port)]
    if variant == "sse-starlette":
        command = [
            sys.executable,
            str(Path(__file__).parent / "fanout_sse_starlette.py"),
            str(port),
        ]
        os.environ["FANOUT_PATH"] = "/api/v1/bench/sse-starlette"  # read by the client processes
    return subprocess.Popen(command, env=env)


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server not ready")


def print_tables(
    streams: list[dict[str, object]], polls: list[dict[str, object]], live: list[dict[str, object]]
) -> None:
    print("\n## SSE push (one server process)\n")
    print(
        "| streams | connect all (server CPU) | p50 commit→client | p99 | max | frames received"
        " | RSS/stream | CPU/cycle | reconnect all (Last-Event-ID) | replay queries | GC >50 ms"
        " | load |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in streams:
        print(
            f"| {r['n']:,} | {r['connect_s']:.2f} s ({r['connect_server_cpu_s']:.2f} s CPU) "
            f"| {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms "
            f"| {r['max_ms']:.0f} ms | {r['received']:,}/{r['expected']:,} "
            f"| {r['rss_per_stream_kb']:.1f} KB | {r['cpu_per_cycle_s']:.2f} s "
            f"| {r['reconnect_s']:.2f} s ({r['reconnect_replayed']:,} replayed) "
            f"| {r['reconnect_queries']} | {r['gc_over_50ms']} of {r['gc_collections']} "
            f"| {r['load']} |"
        )
    print("\n## Baseline: polling /live every 5 s (same server, same run)\n")
    print("| pollers | p50 staleness | p99 staleness | requests/s | DB queries/s |")
    print("|---:|---:|---:|---:|---:|")
    for r in polls:
        print(
            f"| {r['n']:,} | {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms "
            f"| {r['requests_per_s']:.0f} | {r['queries_per_s']:.1f} |"
        )
    print("\n## /live warm, 64 keep-alive connections\n")
    print("| tokens | requests/s | p50 | p99 | errors |")
    print("|---|---:|---:|---:|---:|")
    for r in live:
        kind = (
            "a new token every request (verified each time)"
            if r["unique_tokens"]
            else "one per organization (verified once, then cached)"
        )
        print(
            f"| {kind} | {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} ms "
            f"| {r['p99_ms']:.1f} ms | {r['errors']} |"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "ATUM_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--streams", default="1000,10000")
    parser.add_argument("--pollers", default="1000,10000")
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--gap", type=float, default=2.5, help="seconds after each cycle")
    parser.add_argument("--live-seconds", type=float, default=5.0)
    parser.add_argument(
        "--variant",
        choices=["atum", "sse-starlette"],
        default="atum",
        help="the stream route to measure: ours, or the sse-starlette comparison",
    )
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    db = f"atum_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = with_dbname(args.database_url, db)
    secret = secrets.token_hex(32)
    server = None
    try:
        orgs = await seed(url, args.orgs)
        args.tokens = str(Path(f"/tmp/{db}_tokens.json"))
        mint_tokens(Path(args.tokens), secret, orgs, extra=60_000)
        if not args.port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                args.port = sock.getsockname()[1]
        args.base = f"http://127.0.0.1:{args.port}"
        server = start_server(url, secret, args.port, args.variant)
        print(f"server: {args.variant}", flush=True)
        await wait_ready(args.base)
        conn = await asyncpg.connect(url)
        streams = []
        for n in [int(x) for x in args.streams.split(",") if x]:
            streams.append(await run_streams(args, conn, db, server.pid, n))
            print(json.dumps(streams[-1]), flush=True)
        polls = []
        for n in [int(x) for x in args.pollers.split(",") if x]:
            polls.append(await run_polling(args, conn, db, n))
            print(json.dumps(polls[-1]), flush=True)
        live = []
        for unique in (False, True):
            live.append(await run_live(args, unique))
            print(json.dumps(live[-1]), flush=True)
        await conn.close()
        print_tables(streams, polls, live)
        if streams:
            most = max(int(str(r["n"])) for r in streams)
            seconds = await sigterm_with_streams(args, server, most)
            print(f"\nSIGTERM with {most:,} open streams: the server exited in {seconds:.2f} s")
            server = None
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

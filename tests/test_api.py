"""The REST routes against a real server: live, history, organizations, probes, errors."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import jwt
import pytest

from atum_metrics import demo
from atum_metrics.settings import Settings
from atum_metrics.snapshots import take_snapshots
from atum_metrics.tokens import mint_token

SNAPSHOT_KEYS = {
    "id",
    "organization_id",
    "snapshot_ts",
    "tickets_by_status",
    "tickets_by_priority",
    "frt_p50",
    "frt_p95",
    "mttr_p50",
    "mttr_p95",
    "sla_compliance_pct",
    "agent_load",
}


def token(settings: Settings, org: uuid.UUID, *, admin: bool = False, ttl: float = 3600) -> str:
    return mint_token(settings, org, admin=admin, ttl=timedelta(seconds=ttl))


def auth(settings: Settings, org: uuid.UUID, *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, org, admin=admin)}"}


@pytest.fixture
async def orgs(conn: asyncpg.Connection) -> list[demo.Organization]:
    return await demo.create_organizations(conn, ["Alpha", "Beta"], agents=3, tickets=30)


@pytest.fixture
async def client(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        yield http


async def test_live_answers_the_latest_snapshot_with_etag_and_304(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
) -> None:
    alpha = orgs[0].id
    headers = auth(settings, alpha)
    missing = await client.get("/api/v1/metrics/live", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "no_snapshot"

    await take_snapshots(conn, settings.metrics_window)
    latest_id = await conn.fetchval(
        "SELECT id FROM metrics_snapshots WHERE organization_id = $1", alpha
    )
    body = await _poll_live(client, headers, latest_id)
    assert set(body) >= SNAPSHOT_KEYS
    assert body["organization_id"] == str(alpha)
    assert body["snapshot_ts"].endswith("Z")
    assert set(body["tickets_by_status"]) == {"open", "pending", "resolved", "closed"}

    first = await client.get("/api/v1/metrics/live", headers=headers)
    assert first.headers["etag"] == f'"{latest_id}"'
    again = await client.get(
        "/api/v1/metrics/live", headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


async def _poll_live(
    client: httpx.AsyncClient, headers: dict[str, str], snapshot_id: uuid.UUID
) -> dict[str, object]:
    """/live until it shows ``snapshot_id`` (the announcement travels asynchronously)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = await client.get("/api/v1/metrics/live", headers=headers)
        if response.status_code == 200 and response.json()["id"] == str(snapshot_id):
            body: dict[str, object] = response.json()
            return body
    raise AssertionError(f"/live never showed {snapshot_id}")


async def test_live_is_isolated_per_tenant_and_admin_may_choose(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
) -> None:
    alpha, beta = orgs[0].id, orgs[1].id
    await take_snapshots(conn, settings.metrics_window)
    beta_id = await conn.fetchval(
        "SELECT id FROM metrics_snapshots WHERE organization_id = $1", beta
    )
    own = await _poll_live(client, auth(settings, beta), beta_id)
    assert own["organization_id"] == str(beta)

    other = await client.get(
        "/api/v1/metrics/live", params={"organization_id": str(beta)}, headers=auth(settings, alpha)
    )
    assert other.status_code == 403 and other.json()["error"] == "forbidden"
    admin = await client.get(
        "/api/v1/metrics/live",
        params={"organization_id": str(beta)},
        headers=auth(settings, alpha, admin=True),
    )
    assert admin.status_code == 200 and admin.json()["id"] == str(beta_id)


async def test_an_admin_naming_an_unknown_organization_gets_404(
    client: httpx.AsyncClient, settings: Settings, orgs: list[demo.Organization]
) -> None:
    unknown = {"organization_id": str(uuid.uuid4())}
    admin = auth(settings, orgs[0].id, admin=True)
    for path in ("/api/v1/metrics/live", "/api/v1/metrics/history", "/api/v1/metrics/stream"):
        response = await client.get(path, params=unknown, headers=admin)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found", path


async def test_history_returns_the_span_oldest_first_and_downsamples(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
) -> None:
    alpha, beta = orgs[0].id, orgs[1].id
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    for minute in range(0, 60, 5):  # 12 snapshots each, 5 minutes apart
        await take_snapshots(conn, settings.metrics_window, at=base + timedelta(minutes=minute))
    headers = auth(settings, alpha)
    span = {"from": base.isoformat(), "to": (base + timedelta(hours=1)).isoformat()}

    full = (await client.get("/api/v1/metrics/history", params=span, headers=headers)).json()
    stamps = [item["snapshot_ts"] for item in full["items"]]
    # (from, to]: the snapshot exactly at `from` is out, the other 11 are in, oldest first.
    assert len(stamps) == 11 and stamps == sorted(stamps)
    assert {item["organization_id"] for item in full["items"]} == {str(alpha)}
    assert full["from"] == base.isoformat().replace("+00:00", "Z").replace("Z", ".000000Z")

    few = await client.get(
        "/api/v1/metrics/history", params={**span, "max_points": "3"}, headers=headers
    )
    items = few.json()["items"]
    # Three 20-minute buckets from `from`; the last snapshot of each: 15, 35 and 55 minutes.
    expected = [base + timedelta(minutes=m) for m in (15, 35, 55)]
    assert [datetime.fromisoformat(i["snapshot_ts"]) for i in items] == expected

    ranged = await client.get("/api/v1/metrics/history", params={"range": "3h"}, headers=headers)
    assert ranged.status_code == 200 and len(ranged.json()["items"]) == 12
    assert ranged.json()["range"] == "3h"
    forbidden = await client.get(
        "/api/v1/metrics/history", params={"organization_id": str(beta)}, headers=headers
    )
    assert forbidden.status_code == 403


async def test_history_reads_from_the_read_database_when_set(
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
    pg_server_url: str,
    template_name: str,
) -> None:
    from tests.conftest import drop_database, make_database, with_dbname
    from tests.live_server import running_server

    await take_snapshots(conn, settings.metrics_window)
    name = await asyncio.to_thread(make_database, pg_server_url, template_name)
    replica_url = with_dbname(pg_server_url, name)
    try:
        replica = await asyncpg.connect(replica_url)
        try:
            # The replica holds a snapshot the primary does not: history must show it alone.
            replica_id = await replica.fetchval(
                "INSERT INTO metrics_snapshots (organization_id, snapshot_ts,"
                " tickets_by_status, tickets_by_priority, agent_load)"
                " VALUES ($1, now(), '{}', '{}', '{}') RETURNING id",
                orgs[0].id,
            )
        finally:
            await replica.close()
        with running_server(settings.replace(read_database_url=replica_url)) as server:
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                response = await http.get(
                    "/api/v1/metrics/history", headers=auth(settings, orgs[0].id)
                )
    finally:
        await asyncio.to_thread(drop_database, pg_server_url, name)
    assert [item["id"] for item in response.json()["items"]] == [str(replica_id)]


async def test_organizations_lists_own_or_all_for_admin(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    settings: Settings,
    orgs: list[demo.Organization],
) -> None:
    await take_snapshots(conn, settings.metrics_window)
    own = (await client.get("/api/v1/organizations", headers=auth(settings, orgs[0].id))).json()
    assert [item["name"] for item in own["items"]] == ["Alpha"]
    assert own["items"][0]["latest_snapshot_ts"].endswith("Z")
    every = await client.get(
        "/api/v1/organizations", headers=auth(settings, orgs[0].id, admin=True)
    )
    assert [item["name"] for item in every.json()["items"]] == ["Alpha", "Beta"]


async def test_probes_openapi_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["listening"] is True
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/metrics/live", "/api/v1/metrics/history", "/api/v1/organizations"} <= set(
        spec["paths"]
    )
    text = (await client.get("/metrics")).text
    for name in (
        "atum_sse_streams_open",
        "atum_sse_events_sent_total",
        "atum_notify_to_send_seconds_bucket",
        "atum_listener_reconnects_total",
        "atum_worker_cycle_seconds_bucket",
    ):
        assert name in text


def _expired(settings: Settings, org: uuid.UUID) -> str:
    assert settings.jwt_secret
    return jwt.encode(
        {"org_id": str(org), "exp": int(time.time()) - 10}, settings.jwt_secret, "HS256"
    )


BAD_HISTORY = [
    {"range": "0h"},
    {"range": "24"},
    {"range": "-1d"},
    {"range": "1w"},
    {"range": "91d"},
    {"range": "1h", "from": "2026-01-01T00:00:00Z"},
    {"to": "2026-01-01T00:00:00Z"},
    {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    {"from": "2026-01-01T00:00:00"},
    {"from": "yesterday"},
    {"from": "0001-01-01T00:00:00+14:00"},  # before datetime's range once in UTC
    {"from": "2026-01-01T00:00:00Z", "to": "9999-12-31T23:59:59-14:00"},
    {"from": "2025-01-01T00:00:00Z", "to": "2025-06-01T00:00:00Z"},
    {"max_points": "0"},
    {"max_points": "10001"},
    {"max_points": "ten"},
    {"organization_id": "not-a-uuid"},
]


@pytest.mark.parametrize("params", BAD_HISTORY, ids=[str(p) for p in BAD_HISTORY])
async def test_bad_history_parameters_are_400(
    client: httpx.AsyncClient,
    settings: Settings,
    orgs: list[demo.Organization],
    params: dict[str, str],
) -> None:
    response = await client.get(
        "/api/v1/metrics/history", params=params, headers=auth(settings, orgs[0].id)
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "detail"} and body["detail"]


async def test_error_table_answers_json(
    client: httpx.AsyncClient, settings: Settings, orgs: list[demo.Organization]
) -> None:
    alpha = orgs[0].id
    cases = [
        ("GET", "/api/v1/metrics/live", {}, 401),
        ("GET", "/api/v1/metrics/stream", {}, 401),
        ("GET", "/api/v1/organizations", {"Authorization": "Bearer nonsense"}, 401),
        ("GET", "/api/v1/metrics/live", {"Authorization": "Basic abc"}, 401),
        (
            "GET",
            "/api/v1/metrics/history",
            {"Authorization": f"Bearer {_expired(settings, alpha)}"},
            401,
        ),
        ("GET", "/api/v1/nowhere", auth(settings, alpha), 404),
        ("GET", "/nowhere", {}, 404),
        ("POST", "/api/v1/metrics/live", auth(settings, alpha), 405),
        ("DELETE", "/api/v1/metrics/stream", auth(settings, alpha), 405),
    ]
    for method, path, headers, status in cases:
        response = await client.request(method, path, headers=headers)
        assert response.status_code == status, (method, path)
        assert response.headers["content-type"] == "application/json", (method, path)
        body = response.json()
        assert set(body) == {"error", "detail"} and body["detail"], (method, path)


async def test_access_token_query_parameter_works_and_is_never_logged(
    client: httpx.AsyncClient,
    settings: Settings,
    orgs: list[demo.Organization],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = token(settings, orgs[0].id)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        response = await client.get("/api/v1/organizations", params={"access_token": secret})
        await client.get("/api/v1/metrics/live", params={"access_token": "garbage"})
    assert response.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any("/api/v1/organizations?access_token=[redacted]" in line for line in lines)
    assert all(secret not in line and "garbage" not in line for line in lines)

"""The dashboard in a real headless Chromium, against a real server and database."""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import asyncpg
import jwt
import orjson
import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from atum_metrics import demo
from atum_metrics.settings import Settings
from atum_metrics.snapshots import take_snapshots
from atum_metrics.tokens import mint_token

pytestmark = pytest.mark.browser

# Debian's Chromium (the Playwright browser download does not work here); override for others.
CHROMIUM = Path(os.environ.get("ATUM_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
WIDE: ViewportSize = {"width": 1600, "height": 1000}
NARROW: ViewportSize = {"width": 390, "height": 844}
LIVE_WITHIN_MS = 2000  # the issue: a new snapshot shows within 2 s of a worker cycle
POLL_WITHIN_MS = 15000  # polling every 5 s (10 s after a failure), plus the fallback itself


def human(minutes: float | None) -> str:
    """What the page should print for a duration (mirrors web/format.js formatDuration)."""
    if minutes is None:
        return "—"
    seconds = max(0, half_up(minutes * 60))
    if seconds < 60:
        return f"{seconds} s"
    total = half_up(seconds / 60)
    if total < 60:
        return f"{total} m"
    hours, rest = divmod(total, 60)
    if hours < 24:
        return f"{hours} h {rest} m" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def half_up(value: float) -> int:
    """JavaScript's Math.round (Python's round() goes to even)."""
    return math.floor(value + 0.5)


def percent(value: float | None) -> str:
    """What the page prints for a percentage (JavaScript's toFixed(1) rounds ties up)."""
    if value is None:
        return "—"
    return f"{Decimal(value).quantize(Decimal('0.1'), ROUND_HALF_UP)} %"


def count(value: int) -> str:
    return f"{value:,}"


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium: skip without it, except in CI, where a missing browser fails."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing and CI=true: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


class Console:
    """Errors the page printed or threw, minus the ones a test provokes on purpose."""

    def __init__(self, page: Page, allow: re.Pattern[str] | None = None) -> None:
        self.errors: list[str] = []
        self._allow = allow
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = str(message.location.get("url", ""))
        if self._allow and (self._allow.search(where) or self._allow.search(message.text)):
            return
        self.errors.append(f"{message.text} ({where})")


async def open_page(
    browser: Browser,
    *,
    scheme: Literal["light", "dark"] = "light",
    viewport: ViewportSize = WIDE,
) -> Page:
    context = await browser.new_context(
        color_scheme=scheme,
        viewport=viewport,
        locale="en-US",
        timezone_id="UTC",
    )
    return await context.new_page()


async def latest(conn: asyncpg.Connection, org: uuid.UUID) -> dict[str, Any]:
    row = await conn.fetchrow(
        """
        SELECT tickets_by_status, tickets_by_priority, frt_p50, frt_p95, mttr_p50, mttr_p95,
               sla_compliance_pct, agent_load, snapshot_ts
        FROM metrics_snapshots WHERE organization_id = $1
        ORDER BY snapshot_ts DESC LIMIT 1
        """,
        org,
    )
    assert row is not None
    snapshot = dict(row)
    for key in ("tickets_by_status", "tickets_by_priority", "agent_load"):
        if isinstance(snapshot[key], str):
            snapshot[key] = orjson.loads(snapshot[key])
    return snapshot


async def add_open_tickets(conn: asyncpg.Connection, org: uuid.UUID, n: int) -> None:
    await conn.execute(
        """
        INSERT INTO tickets (organization_id, status, priority, created_at)
        SELECT $1, 'open', 'urgent', now() FROM generate_series(1, $2)
        """,
        org,
        n,
    )


async def tile_boxes(page: Page) -> list[dict[str, float]]:
    boxes: list[dict[str, float]] = await page.evaluate(
        """[...document.querySelectorAll('.tile')].map((tile) => {
            const r = tile.getBoundingClientRect();
            return {x: r.x, y: r.y, width: r.width, height: r.height};
        })"""
    )
    return boxes


def dashboard(live_server: str, token: str, query: str = "") -> str:
    return f"{live_server}/desk/dashboard{query}#token={token}"


async def seed(conn: asyncpg.Connection, settings: Settings, *names: str) -> list[uuid.UUID]:
    orgs = await demo.create_organizations(conn, list(names), tickets=120)
    await take_snapshots(conn, settings.metrics_window)
    return [org.id for org in orgs]


def token_for(settings: Settings, org: uuid.UUID, *, admin: bool = False) -> str:
    return mint_token(settings, org, admin=admin, ttl=timedelta(hours=1))


async def test_shows_the_current_snapshot(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    snapshot = await latest(conn, org)
    page = await open_page(browser)
    console = Console(page)
    await page.goto(dashboard(live_server, token_for(settings, org)))

    await expect(page.locator("#conn-label")).to_have_text("Live")
    for key, value in snapshot["tickets_by_status"].items():
        dd = page.locator(f"#status-counts [data-key={key}] dd")
        await expect(dd).to_have_text(count(value))
    for key, value in snapshot["tickets_by_priority"].items():
        dd = page.locator(f"#priority-counts [data-key={key}] dd")
        await expect(dd).to_have_text(count(value))
    await expect(page.locator("#frt-p50")).to_have_text(human(snapshot["frt_p50"]))
    await expect(page.locator("#frt-p95")).to_have_text(human(snapshot["frt_p95"]))
    await expect(page.locator("#mttr-p50")).to_have_text(human(snapshot["mttr_p50"]))
    await expect(page.locator("#mttr-p95")).to_have_text(human(snapshot["mttr_p95"]))
    await expect(page.locator("#sla-value")).to_have_text(percent(snapshot["sla_compliance_pct"]))
    ordered = sorted(snapshot["agent_load"].items(), key=lambda kv: (-kv[1], kv[0]))
    await expect(page.locator("#agent-bars .handle")).to_have_text([h for h, _ in ordered])
    await expect(page.locator("#agent-bars .value")).to_have_text([count(n) for _, n in ordered])
    await expect(page.locator("#org-name")).to_have_text("Acme Support")
    await expect(page.locator("#snapshot-time")).to_have_text(
        snapshot["snapshot_ts"].astimezone(UTC).strftime("%H:%M:%S")
    )

    # The token left the address bar at once and lives in this tab's sessionStorage only.
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('atum.token')") is not None
    await expect(page.locator(".plot .line.s0").first).to_be_attached()
    assert console.errors == []


async def test_a_new_snapshot_appears_live_without_reload(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    before = (await latest(conn, org))["tickets_by_status"]["open"]
    page = await open_page(browser)
    console = Console(page)
    await page.goto(dashboard(live_server, token_for(settings, org)))
    open_count = page.locator("#status-counts [data-key=open] dd")
    await expect(open_count).to_have_text(count(before))
    await expect(page.locator("#conn-label")).to_have_text("Live")
    await page.evaluate("window.__sameDocument = true")
    boxes = await tile_boxes(page)

    await add_open_tickets(conn, org, 95)
    await take_snapshots(conn, settings.metrics_window)

    await expect(open_count).to_have_text(count(before + 95), timeout=LIVE_WITHIN_MS)
    assert await page.evaluate("window.__sameDocument === true")
    # Two more digits and new bars, and not a tile moved or grew.
    assert await tile_boxes(page) == boxes
    await expect(page.locator("#conn-label")).to_have_text("Live")
    assert console.errors == []


async def test_nothing_to_measure_reads_as_a_dash_with_the_reason(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await demo.create_organizations(conn, ["Quiet Desk"], tickets=0)
    page = await open_page(browser)
    # Before the first cycle /live answers 404 no_snapshot, which Chromium logs by itself.
    console = Console(page, allow=re.compile(r"status of 404"))
    await page.goto(dashboard(live_server, token_for(settings, org.id)))
    await expect(page.locator("#notice")).to_contain_text("No snapshot yet")

    await take_snapshots(conn, settings.metrics_window)

    await expect(page.locator("#notice")).to_be_hidden(timeout=LIVE_WITHIN_MS)
    await expect(page.locator("#status-counts [data-key=open] dd")).to_have_text("0")
    for metric in ("frt-p50", "frt-p95", "mttr-p50", "mttr-p95", "sla-value"):
        await expect(page.locator(f"#{metric}")).to_have_text("—")
    await expect(page.locator("#frt-hint")).to_contain_text("No first responses")
    await expect(page.locator("#mttr-hint")).to_contain_text("No tickets resolved")
    await expect(page.locator("#sla-hint")).to_contain_text("No SLA targets")
    assert console.errors == []


async def test_falls_back_to_polling_when_the_stream_is_blocked(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    before = (await latest(conn, org))["tickets_by_status"]["open"]
    page = await open_page(browser)
    console = Console(page, allow=re.compile(r"/api/v1/metrics/stream"))
    blocked: list[str] = []

    async def block(route: Any) -> None:
        blocked.append(route.request.url)
        await route.abort()

    await page.route(re.compile(r"/api/v1/metrics/stream"), block)
    await page.goto(dashboard(live_server, token_for(settings, org)))
    open_count = page.locator("#status-counts [data-key=open] dd")
    await expect(open_count).to_have_text(count(before))
    await expect(page.locator("#conn-label")).to_have_text("Polling")

    await add_open_tickets(conn, org, 3)
    await take_snapshots(conn, settings.metrics_window)

    await expect(open_count).to_have_text(count(before + 3), timeout=POLL_WITHIN_MS)
    await expect(page.locator("#conn-label")).to_have_text("Polling")
    assert blocked, "the page never tried the stream"
    assert console.errors == []


async def test_the_stream_comes_back_after_polling(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    page = await open_page(browser)
    console = Console(page, allow=re.compile(r"/api/v1/metrics/stream"))
    pattern = re.compile(r"/api/v1/metrics/stream")

    async def block(route: Any) -> None:
        await route.abort()

    await page.route(pattern, block)
    await page.goto(dashboard(live_server, token_for(settings, org)))
    await expect(page.locator("#conn-label")).to_have_text("Polling")
    await page.unroute(pattern, block)
    # The next stream attempt (2 s, then 5 s backoff) succeeds and polling stops.
    await expect(page.locator("#conn-label")).to_have_text("Live", timeout=POLL_WITHIN_MS)
    assert console.errors == []


async def test_transport_poll_forces_polling(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    before = (await latest(conn, org))["tickets_by_status"]["open"]
    page = await open_page(browser)
    console = Console(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(dashboard(live_server, token_for(settings, org), "?transport=poll"))
    open_count = page.locator("#status-counts [data-key=open] dd")
    await expect(open_count).to_have_text(count(before))
    await expect(page.locator("#conn-label")).to_have_text("Polling")
    await add_open_tickets(conn, org, 2)
    await take_snapshots(conn, settings.metrics_window)
    await expect(open_count).to_have_text(count(before + 2), timeout=POLL_WITHIN_MS)
    assert not [url for url in requests if "/metrics/stream" in url]
    assert [url for url in requests if "/metrics/live" in url]
    assert console.errors == []


async def test_an_expired_token_shows_the_sign_in_prompt(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    expired = mint_token(settings, org, admin=False, ttl=timedelta(seconds=-60))
    page = await open_page(browser)
    console = Console(page)
    await page.goto(dashboard(live_server, expired))

    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#signin-reason")).to_contain_text("expired")
    await expect(page.locator("#board")).to_be_hidden()
    await expect(page.locator("#signin-token")).to_be_focused()
    assert "token" not in page.url

    # Signing in with a good token opens the board.
    await page.locator("#signin-token").fill(token_for(settings, org))
    await page.get_by_role("button", name="Open dashboard").click()
    await expect(page.locator("#board")).to_be_visible()
    await expect(page.locator("#conn-label")).to_have_text("Live")
    assert console.errors == []


async def test_a_token_that_expires_while_open_shows_the_sign_in_prompt(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    short = mint_token(settings, org, admin=False, ttl=timedelta(seconds=3))
    page = await open_page(browser)
    console = Console(page)
    await page.goto(dashboard(live_server, short))
    await expect(page.locator("#conn-label")).to_have_text("Live")

    await expect(page.locator("#signin-reason")).to_contain_text("expired", timeout=10_000)
    await expect(page.locator("#board")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('atum.token')") is None
    assert console.errors == []


async def test_a_token_the_server_refuses_shows_the_sign_in_prompt(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    exp = datetime.now(UTC) + timedelta(hours=1)
    forged = jwt.encode({"org_id": str(org), "exp": exp}, "not-the-secret-" + "y" * 32)
    page = await open_page(browser)
    # The browser itself logs the refused requests (401); nothing else may appear.
    console = Console(page, allow=re.compile(r"status of 401|/api/v1/"))
    await page.goto(dashboard(live_server, forged))

    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#signin-reason")).to_contain_text("not valid")
    assert await page.evaluate("sessionStorage.getItem('atum.token')") is None
    assert console.errors == []


async def test_an_admin_picks_the_organization(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    acme, globex = await seed(conn, settings, "Acme Support", "Globex Helpdesk")
    await add_open_tickets(conn, globex, 11)
    await take_snapshots(conn, settings.metrics_window)
    expected = {
        org: (await latest(conn, org))["tickets_by_status"]["open"] for org in (acme, globex)
    }
    page = await open_page(browser)
    console = Console(page)
    await page.goto(dashboard(live_server, token_for(settings, acme, admin=True)))

    picker = page.get_by_label("Organization")
    await expect(picker).to_be_visible()
    await expect(picker.locator("option")).to_have_text(["Acme Support", "Globex Helpdesk"])
    open_count = page.locator("#status-counts [data-key=open] dd")
    await expect(open_count).to_have_text(count(expected[acme]))
    await picker.select_option(label="Globex Helpdesk")
    await expect(open_count).to_have_text(count(expected[globex]))
    await expect(page.locator("#conn-label")).to_have_text("Live")
    assert console.errors == []


# A day of helpdesk work replayed at past times, so that each past snapshot sees only what
# had happened by then (the demo simulator works at now(), which would put it all at the end).
HISTORY_STEPS = (
    """
    INSERT INTO tickets (organization_id, status, priority, assignee_id, created_at,
                         first_response_due_at, resolution_due_at, updated_at)
    SELECT a.organization_id, 'open', (ARRAY['low', 'medium', 'high', 'urgent'])[1 + n % 4],
           a.id, $1::timestamptz, $1::timestamptz + interval '2 hours',
           $1::timestamptz + interval '24 hours', $1::timestamptz
    FROM (SELECT DISTINCT ON (organization_id) organization_id, id FROM agents
          WHERE active ORDER BY organization_id, random()) a,
         generate_series(1, 3) n
    WHERE random() < 0.6
    """,
    """
    UPDATE tickets SET first_response_at = $1, status = 'pending', updated_at = $1
    WHERE status = 'open' AND first_response_at IS NULL AND created_at < $1 AND random() < 0.35
    """,
    """
    UPDATE tickets SET status = 'resolved', resolved_at = $1, updated_at = $1
    WHERE status = 'pending' AND first_response_at < $1 AND random() < 0.12
    """,
)


async def replay_history(
    conn: asyncpg.Connection, settings: Settings, start: datetime, steps: int, every: timedelta
) -> None:
    for step in range(1, steps + 1):
        at = start + step * every
        for statement in HISTORY_STEPS:
            await conn.execute(statement, at)
        await take_snapshots(conn, settings.metrics_window, at=at)


def history_query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def test_trend_ranges_ask_history_for_points_sized_to_the_chart(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    (org,) = await seed(conn, settings, "Acme Support")
    page = await open_page(browser)
    console = Console(page)
    is_history = re.compile(r"/api/v1/metrics/history\?")
    async with page.expect_request(is_history) as first:
        await page.goto(dashboard(live_server, token_for(settings, org)))
    assert history_query((await first.value).url)["range"] == ["24h"]
    await expect(page.get_by_role("radio", name="24 h")).to_have_attribute("aria-checked", "true")
    await expect(page.locator(".plot .line.s0").first).to_be_attached()

    # Keyboard: the range switch is a radio group; the left arrow moves from 24 h to 1 h.
    await page.get_by_role("radio", name="24 h").focus()
    async with page.expect_request(is_history) as second:
        await page.keyboard.press("ArrowLeft")
    query = history_query((await second.value).url)
    await expect(page.get_by_role("radio", name="1 h")).to_have_attribute("aria-checked", "true")
    await expect(page.get_by_role("radio", name="1 h")).to_be_focused()
    width = await page.locator("[data-chart=backlog] svg").evaluate(
        "svg => svg.getBoundingClientRect().width"
    )
    assert query["range"] == ["1h"]
    assert query["max_points"] == [str(half_up(width / 3))]
    assert console.errors == []


async def test_screenshots_with_demo_data(
    browser: Browser, live_server: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    """Light and dark, narrow and wide, with a day of history; one becomes docs/dashboard.png."""
    start = datetime.now(UTC) - timedelta(hours=24)
    orgs = await demo.create_organizations(conn, list(demo.DEMO_ORGANIZATIONS), now=start)
    await replay_history(conn, settings, start, steps=72, every=timedelta(minutes=20))
    await take_snapshots(conn, settings.metrics_window)
    token = token_for(settings, orgs[0].id, admin=True)
    OUTPUT.mkdir(exist_ok=True)
    backgrounds = {}
    for scheme in ("light", "dark"):
        for name, viewport in (("wide", WIDE), ("narrow", NARROW)):
            page = await open_page(browser, scheme=scheme, viewport=viewport)
            console = Console(page)
            await page.goto(dashboard(live_server, token))
            await expect(page.locator("#conn-label")).to_have_text("Live")
            await expect(page.locator("[data-chart=frt] .plot .line.s1")).to_be_attached()
            await page.evaluate("document.fonts.ready")
            path = OUTPUT / f"dashboard-{scheme}-{name}.png"
            await page.screenshot(path=str(path), full_page=True, animations="disabled")
            assert path.stat().st_size > 10_000
            backgrounds[scheme] = await page.evaluate(
                "getComputedStyle(document.body).backgroundColor"
            )
            assert console.errors == []
            await page.context.close()
    assert backgrounds["light"] != backgrounds["dark"]

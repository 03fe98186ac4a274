"""The web page at `/`, end to end in headless Chromium (Debian's, driven by Playwright for Python).

Three orders submitted through the page each confirm on their WebSocket timelines, and a limit order waits
on the price chart; the page is then saved as `docs/screenshot.png`, which the README shows. A limit order
placed through the page is listed, drawn on the chart, and cancelled with its button.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.client.open_stack import new_api_key
from tests.support.services import BIN, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

CHROMIUM = Path("/usr/bin/chromium")
# The flags this machine needs: no sandbox as root, and no calls home (its network is closed).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
ORDERS = [("SOL → USDC", "1.5"), ("SOL → USDT", "2"), ("JUP → SOL", "20000")]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed: `make browser-test-deps`"
)


def page_url(stack: Stack) -> str:
    """The page; told where the notifier is unless the api's /config.js already says."""
    config = httpx.get(f"{stack.api}/config.js").text
    return f"{stack.api}/" if stack.ws in config else f"{stack.api}/?ws={stack.ws}"


async def test_the_page_and_its_config_are_served(open_api: Stack) -> None:
    async with httpx.AsyncClient(base_url=open_api.api) as client:
        page = await client.get("/")
        assets = {path: await client.get(path) for path in ("/static/app.js", "/static/style.css")}
        config = await client.get("/config.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text
    for (path, response), kind in zip(assets.items(), ("javascript", "text/css"), strict=True):
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"]
    assert config.status_code == 200
    assert "javascript" in config.headers["content-type"]
    assert config.text.startswith("window.ORDERS_CONFIG = {")


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield browser
        await browser.close()


async def _open(browser: Browser, url: str, errors: list[str]) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url)
    # The live quote: both venues answer before anything is submitted.
    await expect(page.locator("#quote-rows tr")).to_have_count(2, timeout=15_000)
    return page


async def _submit(page: Page, pair: str, amount: str) -> None:
    await page.select_option("#pair", label=pair)
    await page.fill("#amount", amount)
    await page.click("#submit")


async def _chart_points(page: Page, at_least: int, venues: tuple[str, ...] = ("raydium", "meteora")) -> None:
    """Wait for the chart to have drawn ``at_least`` samples of ``venues`` (sampled once a second)."""
    # The page's CSP forbids eval, so a regex on the count the chart writes stands for `>= at_least`.
    assert at_least < 10 or (at_least < 100 and at_least % 10 == 0)
    tens = f"[{at_least // 10}-9]\\d" if at_least >= 10 else f"[{at_least}-9]|[1-9]\\d"
    more = re.compile(f"^({tens}|[1-9]\\d{{2,}})$")
    await expect(page.locator("#chart")).to_have_attribute("data-points", more, timeout=30_000)
    for venue in venues:
        points = await page.locator(f"#chart polyline[data-venue={venue}]").get_attribute("points")
        assert points is not None
        assert len(points.split()) >= at_least


async def _near_limit_price(stack: Stack) -> str:
    """A SOL → USDC limit price a little above what the best route pays now: it waits, near the chart."""
    async with httpx.AsyncClient(base_url=stack.api) as client:
        quote = (await client.get("/api/quote?tokenIn=SOL&tokenOut=USDC&amountIn=0.5")).json()
    paid = Decimal(quote["expectedAmountOut"]) / Decimal("0.5")
    return str((paid * Decimal("1.03")).quantize(Decimal("0.01")))


async def _place_limit(page: Page, amount: str, price: str) -> str:
    """Place a SOL → USDC limit order with the form; its id, once its card shows it `open`."""
    await page.select_option("#pair", label="SOL → USDC")
    await page.select_option("#order-type", "limit")
    await page.fill("#amount", amount)
    await page.fill("#limit-price", price)
    await page.click("#submit")
    card = page.locator("article.order[data-status=open]").first
    await expect(card).to_be_visible(timeout=10_000)
    order_id = await card.get_attribute("data-order-id")
    assert order_id is not None
    return order_id


@needs_chromium
async def test_three_orders_submitted_through_the_page_each_confirm(
    open_api: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await _open(browser, page_url(open_api), errors)
    await expect(page.locator("#quote-rows [data-venue=raydium]")).to_be_visible()
    await expect(page.locator("#quote-rows [data-venue=meteora]")).to_be_visible()

    for pair, amount in ORDERS:
        await _submit(page, pair, amount)

    cards = page.locator("article.order")
    await expect(cards).to_have_count(3, timeout=10_000)
    await expect(page.locator("article.order[data-status=confirmed]")).to_have_count(3, timeout=30_000)
    for i in range(3):
        card = cards.nth(i)
        # Every step of the timeline arrived, in order, over the WebSocket.
        await expect(card.locator(".step.done")).to_have_count(5)
        await expect(card.locator(".result")).to_contain_text(" at ")
    ids = [await cards.nth(i).get_attribute("data-order-id") for i in range(3)]
    # The recent list shows them too, confirmed.
    for order_id in ids:
        await expect(page.locator(f"#recent-rows tr[data-order-id='{order_id}']")).to_have_attribute(
            "data-status", "confirmed", timeout=10_000
        )
    # A limit order waits on the chart, for the picture.
    limit_id = await _place_limit(page, "0.5", await _near_limit_price(open_api))
    await expect(page.locator(f"#chart g.limit[data-order-id='{limit_id}']")).to_be_attached(timeout=10_000)
    await _chart_points(page, 20)
    assert errors == []
    SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    # Leave the shared stack's anonymous client without a waiting order.
    await page.locator(f"#limit-rows tr[data-order-id='{limit_id}'] button.cancel").click()
    await expect(page.locator(f"#limit-rows tr[data-order-id='{limit_id}']")).to_have_count(0, timeout=10_000)
    await page.close()


@needs_chromium
async def test_a_limit_order_placed_through_the_page_is_charted_listed_and_cancelled(
    open_api: Stack, browser: Browser
) -> None:
    key = await new_api_key(open_api, "page limit test")
    errors: list[str] = []
    page = await _open(browser, page_url(open_api), errors)
    await page.fill("#api-key", key)
    await page.press("#api-key", "Enter")
    # The chart draws both venues' samples.
    await expect(page.locator("#chart")).to_have_attribute("data-pair", "SOL-USDC", timeout=10_000)
    await _chart_points(page, 2)
    await expect(page.locator("#limits-empty")).to_be_visible()
    # The launches panel is there, empty or not, without an error.
    await expect(page.locator("#launches")).to_be_visible()

    price = await _near_limit_price(open_api)
    order_id = await _place_limit(page, "0.25", price)
    row = page.locator(f"#limit-rows tr[data-order-id='{order_id}']")
    await expect(row).to_be_visible(timeout=10_000)
    limit = format(Decimal(price).normalize(), "f")  # as the api writes it: 154.20 is 154.2
    await expect(row.locator(".why")).to_contain_text(f"it fires at {limit}", timeout=10_000)
    await expect(page.locator(f"#chart g.limit[data-order-id='{order_id}']")).to_be_attached()
    await expect(page.locator("#limits-empty")).to_be_hidden()

    await row.locator("button.cancel").click()
    await expect(row).to_have_count(0, timeout=10_000)
    await expect(page.locator(f"#chart g.limit[data-order-id='{order_id}']")).to_have_count(0)
    await expect(page.locator(f"article.order[data-order-id='{order_id}']")).to_have_attribute(
        "data-status", "cancelled", timeout=10_000
    )
    async with httpx.AsyncClient(base_url=open_api.api, headers={"Authorization": f"Bearer {key}"}) as client:
        detail = (await client.get(f"/api/orders/{order_id}")).json()
    assert detail["status"] == "cancelled"
    assert errors == []
    await page.close()


@needs_chromium
async def test_with_an_api_key_the_page_sends_it_on_rest_and_the_websocket(
    open_api: Stack, browser: Browser
) -> None:
    key = await new_api_key(open_api, "page test")
    errors: list[str] = []
    page = await _open(browser, page_url(open_api), errors)
    await page.fill("#api-key", key)
    await page.press("#api-key", "Enter")
    await _submit(page, "USDC → SOL", "25")
    await expect(page.locator("article.order[data-status=confirmed]")).to_have_count(1, timeout=30_000)
    # The key's client has only this order: the list was read with the key.
    await expect(page.locator("#recent-rows tr")).to_have_count(1, timeout=10_000)
    assert errors == []
    await page.close()


@needs_chromium
async def test_a_launch_appears_in_the_launches_panel_and_its_pair_can_be_charted(
    open_api: Stack, browser: Browser
) -> None:
    env = {**os.environ, "DATABASE_URL": open_api.env["DATABASE_URL"], "AMQP_URL": open_api.env["AMQP_URL"]}
    command = [str(BIN / "orders-admin"), "launch", "PAGEL", "--decimals", "6", "--price", "0.0001",
               "--liquidity", "500"]  # fmt: skip
    launched = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "launched PAGEL" in launched.stdout
    errors: list[str] = []
    page = await _open(browser, page_url(open_api), errors)
    row = page.locator("#launch-rows tr[data-symbol='PAGEL']")
    await expect(row).to_have_attribute("data-status", "open", timeout=10_000)
    await expect(row).to_contain_text("PAGEL/SOL")
    # Its pool opened: the chart offers the pair and draws its samples (Raydium's: the launch seeds no
    # Meteora liquidity, so that venue has no price to draw).
    await expect(page.locator("#chart-pair option[value='PAGEL-SOL']")).to_have_count(1)
    await page.select_option("#chart-pair", "PAGEL-SOL")
    await expect(page.locator("#chart")).to_have_attribute("data-pair", "PAGEL-SOL", timeout=10_000)
    await _chart_points(page, 2, venues=("raydium",))
    assert errors == []
    await page.close()

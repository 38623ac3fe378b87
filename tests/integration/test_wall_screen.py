"""The wall screen in a real browser (Debian's chromium, driven by Playwright): it shows what
the pipeline stored, in Vietnamese number format, says when its data is stale, and
recovers by itself when the API comes back."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from ioc.config import Settings
from tests.records import alert, document, filing
from tests.roles import start_api, start_role

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
assert Path(CHROMIUM).exists(), "chromium is missing: `make test` installs it (Debian chromium)"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


def kpi(page: Page, path: str) -> Locator:
    return page.locator(f'[data-kpi="{path}"]')


async def test_wall_screen_shows_live_kpis_goes_stale_and_recovers(
    settings: Settings, tmp_path: Path, browser: Browser
) -> None:
    processor = start_role(settings, "process", tmp_path)
    api, settings = start_api(settings, tmp_path)
    try:
        page = await browser.new_page(viewport={"width": 3840, "height": 2160})
        await page.clock.install()
        await page.goto(settings.api_url + "/")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(kpi(page, "events.filings")).to_have_attribute("data-value", "0")
        await expect(page.get_by_text("Hồ sơ đang xử lý")).to_be_visible()

        headers = {"Authorization": f"Bearer {settings.ingest_token}"}
        async with httpx.AsyncClient(base_url=settings.api_url, headers=headers) as http:
            docs = [document(f"d{i}", f"D-{i}") for i in range(1234)]
            assert (await http.post("/ingest/documents", json=docs)).status_code == 200
            assert (
                await http.post("/ingest/filings", json=[filing("f1", "F-1")])
            ).status_code == 200
            alerts = [alert("s1", "A-1", "critical"), alert("s2", "A-2", "low")]
            assert (await http.post("/ingest/security", json=alerts)).status_code == 200

        await expect(kpi(page, "events.documents")).to_have_attribute(
            "data-value", "1234", timeout=30_000
        )
        await expect(kpi(page, "events.documents")).to_have_text("1.234")  # vi-VN grouping
        await expect(kpi(page, "filings.open")).to_have_attribute("data-value", "1", timeout=30_000)
        await expect(kpi(page, "security.open_by_severity.critical")).to_have_attribute(
            "data-value", "1", timeout=30_000
        )
        await expect(kpi(page, "security.open")).to_have_attribute("data-value", "2")
        await page.screenshot(path=str(tmp_path / "wall-live.png"))

        # The API goes away: the page must say its data is stale, not pretend.
        port = settings.api_port
        api.stop()
        await page.clock.fast_forward("00:30")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "stale")
        await expect(page.locator("#stale-banner")).to_be_visible()
        await expect(page.locator("#stale-banner")).to_contain_text("DỮ LIỆU KHÔNG CẬP NHẬT")
        await expect(kpi(page, "events.documents")).to_have_attribute("data-value", "1234")
        await page.screenshot(path=str(tmp_path / "wall-stale.png"))

        # It comes back on the same address: the page reconnects by itself.
        api, _ = start_api(settings, tmp_path, port=port)
        for _ in range(30):
            await page.clock.fast_forward("00:02")
            if await page.locator("#connection").get_attribute("data-state") == "live":
                break
            await page.wait_for_timeout(300)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(page.locator("#stale-banner")).to_be_hidden()
        await expect(kpi(page, "events.documents")).to_have_attribute("data-value", "1234")

        # English is one click away, with English number formatting.
        await page.get_by_role("button", name="EN").click()
        await expect(page.get_by_text("Filings in process")).to_be_visible()
        await expect(kpi(page, "events.documents")).to_have_text("1,234")
    finally:
        api.stop()
        processor.stop()


async def test_wall_screen_says_why_its_data_is_not_updating_while_the_link_is_fine(
    settings: Settings, tmp_path: Path, browser: Browser
) -> None:
    fast = {"IOC_PROCESSOR_STATUS_S": "0.5", "IOC_HEALTH_STALL_S": "2"}
    api, settings = start_api(settings, tmp_path, **fast)
    processor = None
    try:
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(settings.api_url + "/")
        banner = page.locator("#stale-banner")
        # No processor runs: the socket is fine, but nothing sent would be stored.
        await expect(page.locator("#connection")).to_have_attribute("data-state", "staledata")
        await expect(banner).to_contain_text("DỮ LIỆU KHÔNG CẬP NHẬT")
        await expect(banner).to_contain_text("Không có bộ xử lý nào đang chạy")

        # A processor that gets stuck inside its first batch: stalled, with its lag.
        processor = start_role(
            settings, "process", tmp_path, IOC_FAULT_PAUSE_AT="mid_batch", **fast
        )
        headers = {"Authorization": f"Bearer {settings.ingest_token}"}
        async with httpx.AsyncClient(base_url=settings.api_url, headers=headers) as http:
            records = [filing(f"f{i}", f"F-{i}") for i in range(1500)]
            assert (await http.post("/ingest/filings", json=records)).status_code == 200
        await expect(banner).to_contain_text("Bộ xử lý bị đình trệ", timeout=30_000)
        await expect(banner).to_contain_text("1.500 bản ghi đang chờ", timeout=30_000)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "staledata")
        await expect(kpi(page, "events.filings")).to_have_attribute("data-value", "0")
        await page.screenshot(path=str(tmp_path / "wall-stalled.png"))

        await page.get_by_role("button", name="EN").click()
        await expect(banner).to_contain_text("DATA NOT UPDATING")
        await expect(banner).to_contain_text("A processor is stalled: 1,500 records waiting")

        # It is killed and a healthy one takes over: the banner goes, the figures move.
        processor.process.kill()
        processor.process.wait(10)
        processor = start_role(settings, "process", tmp_path, **fast)
        await expect(kpi(page, "events.filings")).to_have_attribute(
            "data-value", "1500", timeout=60_000
        )
        await expect(page.locator("#connection")).to_have_attribute(
            "data-state", "live", timeout=30_000
        )
        await expect(banner).to_be_hidden()
    finally:
        if processor is not None:
            processor.stop()
        api.stop()

"""`/docs` and `/redoc` on a closed network, in a real browser (Debian's chromium, driven by
Playwright) against a real `ioc serve`: every request that would leave the machine is
aborted, and the pages must still render the API from what this process serves. None may
even be tried: the pages' Content-Security-Policy keeps ReDoc from asking for its logo."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from ioc.config import Settings
from tests.roles import start_api

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


async def offline_page(browser: Browser) -> tuple[Page, list[str], list[str]]:
    """A page on which only 127.0.0.1 answers: (page, requests made locally, requests aborted)."""
    page = await browser.new_page(viewport={"width": 1600, "height": 1200})
    local: list[str] = []
    aborted: list[str] = []

    async def only_local(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1":
            local.append(url)
            await route.continue_()
        else:
            aborted.append(url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_local)
    return page, local, aborted


async def test_swagger_ui_and_redoc_render_the_api_with_no_request_leaving_the_machine(
    settings: Settings, tmp_path: Path, browser: Browser
) -> None:
    api, settings = start_api(settings, tmp_path)
    try:
        page, local, aborted = await offline_page(browser)
        response = await page.goto(settings.api_url + "/docs")
        assert response is not None and response.ok
        assert "default-src 'self'" in response.headers["content-security-policy"]
        # Swagger UI rendered the schema: the title and the ingest operation are there.
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("IOC")
        ingest = page.locator(".opblock-summary-path", has_text="/ingest/{source}")
        await expect(ingest.first).to_be_visible(timeout=30_000)
        await expect(page.locator(".opblock").first).to_be_visible()
        await page.screenshot(path=str(tmp_path / "docs.png"))
        assert any(url.endswith("/docs-assets/swagger-ui-bundle.js") for url in local), local
        assert any(url.endswith("/openapi.json") for url in local), local

        # An operation opens: the UI is alive, not only drawn.
        await ingest.first.click()
        await expect(page.get_by_text("Try it out").first).to_be_visible()

        redoc, redoc_local, redoc_aborted = await offline_page(browser)
        await redoc.goto(settings.api_url + "/redoc")
        await expect(redoc.get_by_text("/ingest/{source}").first).to_be_attached(timeout=30_000)
        await expect(redoc.locator("h1").first).to_contain_text("IOC")
        await redoc.screenshot(path=str(tmp_path / "redoc.png"))
        assert any(url.endswith("/docs-assets/redoc.standalone.js") for url in redoc_local)

        assert aborted == [] and redoc_aborted == [], (aborted, redoc_aborted)
    finally:
        api.stop()

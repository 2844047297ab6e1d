"""Fixtures for the portal's browser tests: a real server and headless Debian Chromium driven by Playwright."""

import os
from pathlib import Path

import pytest

from tests.browser.server import PortalServer
from tests.servers import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"


def _require_browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{CHROMIUM} is missing: CI installs it (.ci/run), so the browser tests must run there")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements.txt)")
    pytest.importorskip("pyotp", reason="pyotp is not installed (pip install -r requirements.txt)")


@pytest.fixture(scope="session")
def portal_server():
    _require_browser()
    server = PortalServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, portal_server):
    """new_page(viewport=None) -> a page in a fresh browser context (its own sessionStorage: its own user)."""
    contexts = []

    def factory(viewport=None):
        context = browser.new_context(base_url=portal_server.base, viewport=viewport or {"width": 1280, "height": 860})
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Path(SCREENSHOTS)

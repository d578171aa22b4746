"""Headless Chromium (system package) driven by Playwright's sync API.

Playwright's own browser download does not work here; the Python package's driver talks
to Debian's ``/usr/bin/chromium`` instead. ``browser.launch()`` gives the browser a fresh
temporary user-data-dir that Playwright deletes on close (passing ``--user-data-dir`` to
``launch`` is refused by Playwright), and every ``page`` gets its own browser context, so
no cookies, storage or cache leak from one test to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not CHROMIUM_PATH.is_file():
        raise RuntimeError(
            f"{CHROMIUM_PATH} not found: headless browser tests need the system Chromium. "
            "Run scripts/install-system-deps.sh first."
        )
    chromium = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM_PATH),
        args=list(CHROMIUM_ARGS),
        headless=True,
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()

"""Browser fixtures: Debian's Chromium driven by Playwright against a real ASGI server.

The server is the shared ``asgi_server`` fixture (tests/conftest.py): daphne running
compose's web command on a free port, on this test's database (a file, so the server
process sees every committed row). Static files come from WhiteNoise, as in production.
Test data is written through the real services in this process before the browser acts.

Screenshots go to /tmp/plenum-shots/ (outside the repository) for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SHOTS = Path("/tmp/plenum-shots")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser(chromium_executable: str, asgi_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A headless Chromium (after the server started, so the server's environment stays untouched).

    Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are
    ordinary blocking calls between browser steps, so Django's async guard is lifted for
    this test process only, for this test only.
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def shot():
    """Save a full-page screenshot under /tmp/plenum-shots/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    return take


def settled(page, timeout: int = 15_000) -> None:
    """Wait until htmx has swapped and processed new content (its listeners attach on settle)."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')", timeout=timeout
    )

"""The browser the gateway's pages are tested in: Debian's chromium driven by
Playwright, headless; screenshots go to reports/screenshots (git-ignored)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from settings import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "reports" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()

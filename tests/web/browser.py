"""Playwright driving Debian's Chromium (never `playwright install`: it downloads a browser)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.web_static import dist_dir

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
MISSING_BUILD = "the dashboard is not built: run `make web` (npm ci && npm run build in web/) first"


def require_build() -> Path:
    dist = dist_dir()
    assert (dist / "index.html").exists(), MISSING_BUILD
    return dist


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (playwright `Browser`)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium not found: apt-get install -y chromium (make test-tools does)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()

"""Render a report in headless Chromium (Debian's `chromium`): the DOM as the browser built it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
def require_chromium() -> str:
    assert Path(CHROMIUM).exists(), "chromium not installed (make test installs it: apt-get install -y chromium)"
    return CHROMIUM


def dump_dom(html: Path, profile_dir: Path) -> str:
    cmd = [
        require_chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        "--dump-dom",
        html.resolve().as_uri(),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout

"""Render a report in headless Chromium (Debian's `chromium`) and measure its charts.

A copy of the page gets a script appended that records the on-screen box of every chart mark
(`path.series`, `rect.bar`) into the DOM, which `--dump-dom` then prints: the boxes are the
browser's own layout, so a chart that does not render has no (or empty) boxes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_MEASURE = """<script>
(function () {
  var out = [];
  document.querySelectorAll('svg path.series, svg rect.bar').forEach(function (el) {
    var b = el.getBoundingClientRect();
    out.push({tag: el.tagName.toLowerCase(), width: b.width, height: b.height});
  });
  var pre = document.createElement('pre');
  pre.id = 'chart-geometry';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (make test installs it: apt-get install -y chromium)")
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


def chart_geometry(report: Path, tmp_dir: Path) -> list[dict[str, float | str]]:
    """Boxes of the chart marks as Chromium lays out `report`."""
    probe = tmp_dir / "probe.html"
    probe.write_text(report.read_text().replace("</body>", _MEASURE + "</body>"))
    dom = dump_dom(probe, tmp_dir / "chromium-profile")
    match = re.search(r'<pre id="chart-geometry">(.*?)</pre>', dom, re.S)
    assert match, "the measuring script did not run"
    return list(json.loads(match.group(1).replace("&quot;", '"')))

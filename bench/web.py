"""First paint of the dashboard's overview, measured in the browser, at default scale.

`lake serve`'s server (API + built app, `local.api_server.running`) over a `lake demo` workdir
(default scale; created with `lake demo` when missing), Debian's Chromium driven by Playwright.
Each load is a fresh browser context (empty cache, no session): navigation to `/#token=...` (what
`lake serve --open` does), then the browser's own clocks, in ms since navigation start:
- `first-contentful-paint` (Paint Timing): the first text the user sees;
- `overview-ready` (a mark the app sets once the KPIs and the three charts are drawn): the
  overview's numbers on screen;
- the slowest API request of the load (Resource Timing), and the app's bytes transferred.
Medians of `--loads` loads after one warm-up load (the server's first queries fill its caches).

Run: python -m bench.web [--workdir data/demo] [--loads 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BUDGET_MS = 2000.0
_MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const ready = performance.getEntriesByName('overview-ready')[0];
  const api = performance.getEntriesByType('resource').filter(r => r.name.includes('/v1/'));
  const app = performance.getEntriesByType('resource').filter(r => r.name.includes('/assets/'));
  return {fcp: paint ? paint.startTime : null, ready: ready ? ready.startTime : null,
          slowest_api: Math.max(...api.map(r => r.duration)), api_requests: api.length,
          app_bytes: app.reduce((n, r) => n + r.transferSize, 0) + (nav ? nav.transferSize : 0)};
}"""


def measure(url: str, loads: int) -> list[dict[str, float]]:
    from tests.web.browser import chromium

    results = []
    with chromium() as browser:
        for i in range(loads + 1):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("body[data-state=ready]", timeout=60_000)
            sample = page.evaluate(_MEASURE)
            context.close()
            if i:  # the first load warms the server up
                results.append(sample)
            print(f"  load {i}{' (warm-up)' if not i else ''}: first contentful paint {sample['fcp']:.0f} ms, "
                  f"overview ready {sample['ready']:.0f} ms, slowest API call {sample['slowest_api']:.0f} ms",
                  flush=True)
    return results


def run(workdir: Path, loads: int) -> dict[str, Any]:
    from api.web_static import dist_dir
    from local.analytics.workdir_engine import database_url
    from local.api_server import running, signed_in_url
    from local.stack.postgres_server import free_port
    from local.workdir import Workdir
    from tests.web.browser import require_build

    require_build()
    if not (workdir / "postgres").exists():
        print(f"no demo in {workdir}: running `lake demo --workdir {workdir}` (default scale) first", flush=True)
        subprocess.run([sys.executable, "-m", "cli", "demo", "--workdir", str(workdir)], check=True)
    wd = Workdir.at(workdir)
    with database_url(wd) as admin_url, running(wd, admin_url, free_port(), poll_seconds=0) as base:
        samples = measure(signed_in_url(base, wd), loads)
    summary = {key: statistics.median(s[key] for s in samples) for key in ("fcp", "ready", "slowest_api")}
    return {"loads": len(samples), "median_ms": summary, "app_bytes": samples[-1]["app_bytes"],
            "api_requests": samples[-1]["api_requests"], "dist": str(dist_dir()), "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="data/demo")
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(Path(args.workdir), args.loads)
    median = result["median_ms"]
    print(f"\noverview, median of {result['loads']} cold loads: first contentful paint {median['fcp']:.0f} ms, "
          f"numbers and charts drawn {median['ready']:.0f} ms (budget {BUDGET_MS:.0f} ms), slowest of "
          f"{result['api_requests']} API calls {median['slowest_api']:.0f} ms; app {result['app_bytes']:,} bytes")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if median["ready"] < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

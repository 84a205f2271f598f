"""The terminal summary's trend lines (unicode sparklines).

The demo draws no other charts: every chart lives in the dashboard (web/, Chart.js), one
implementation (ADR 0012); report.html holds the run's tables and points to `lake serve --open`.
"""

from __future__ import annotations

from collections.abc import Sequence


def sparkline(values: Sequence[float | None], width: int = 48) -> str:
    """A one-line unicode trend for the terminal (averaged down to `width` characters)."""
    blocks = "▁▂▃▄▅▆▇█"
    if len(values) > width:
        buckets = [values[i * len(values) // width : (i + 1) * len(values) // width] for i in range(width)]
        values = [(sum(p) / len(p)) if (p := [v for v in b if v is not None]) else None for b in buckets]
    present = [v for v in values if v is not None]
    if not present:
        return ""
    lo, hi = min(present), max(present)
    span = (hi - lo) or 1.0
    return "".join(" " if v is None else blocks[min(7, int((v - lo) / span * 7.999))] for v in values)

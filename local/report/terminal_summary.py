"""The demo's terminal summary: rows per table, rejects by reason, parked rows, trend lines."""

from __future__ import annotations

from collections.abc import Sequence

from local.report.insights import QualityNumbers, Trend
from local.report.sparklines import sparkline
from local.tabular import render


def _trend_lines(trend: Trend, max_series: int = 3) -> list[str]:
    lines = [f"  {trend.title}   (analytics.{trend.view}, {trend.x_labels[0]} .. {trend.x_labels[-1]})"]
    width = max(len(name) for name in trend.series)
    for name, values in list(trend.series.items())[:max_series]:
        present = [v for v in values if v is not None]
        if present:
            lines.append(f"    {name:<{width}}  {sparkline(values)}  {present[0]:.3g} -> {present[-1]:.3g}")
    return lines


def summary_text(
    tables: dict[str, int], quality: QualityNumbers, trends: Sequence[Trend], max_trends: int = 4
) -> str:
    out = ["", "rows per table:", render(["table", "rows"], sorted(tables.items()))]
    out += ["", "rejected rows by reason (quarantine):"]
    out.append(
        render(["reason", "rows"], sorted(quality.reasons.items(), key=lambda kv: -kv[1]))
        if quality.reasons
        else "  none"
    )
    if quality.object_rejections:
        out += [
            "whole objects rejected:",
            render(["reason", "objects"], sorted(quality.object_rejections.items())),
        ]
    out += ["", "parked rows (waiting for a parent that has not arrived):"]
    out.append(render(["entity", "parent", "rows"], quality.parked_rows) if quality.parked_rows else "  none")
    if trends:
        out += ["", "trends:"]
        for trend in trends[:max_trends]:
            out += _trend_lines(trend)
    return "\n".join(out)

"""The demo's terminal summary: rows per table, rejects by reason, parked rows, trend lines."""

from __future__ import annotations

from collections.abc import Sequence

from local.charts import sparkline
from local.insights import QualityNumbers, Trend
from local.tabular import render


def _trend_line(trend: Trend) -> str:
    name, values = next(iter(trend.series.items()))
    present = [v for v in values if v is not None]
    if not present:
        return f"  {trend.view}: no values"
    label = trend.metric if len(trend.series) == 1 else f"{trend.metric} [{name}]"
    return (
        f"  {trend.view}: {label}\n    {sparkline(values)}  "
        f"{trend.x_labels[0]} .. {trend.x_labels[-1]}: {present[0]:.3g} -> {present[-1]:.3g}"
    )


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
        out += [_trend_line(t) for t in trends[:max_trends]]
    return "\n".join(out)

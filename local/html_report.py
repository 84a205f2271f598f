"""The demo's `report.html`: one self-contained file (inline CSS and SVG, no scripts, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from local.charts import bar_chart, line_chart
from local.insights import QualityNumbers, Trend
from local.tabular import cell

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:960px}
body{color:#111827}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
td,th{border:1px solid #e5e7eb;padding:.2rem .5rem}
th{background:#f9fafb;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}.wide{overflow-x:auto}h3{font-size:1rem}
svg{max-width:100%;height:auto;font-family:inherit}.muted{color:#6b7280;font-size:.85rem}
"""


def html_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(cell(v))}</td>'
            if isinstance(v, int | float) and not isinstance(v, bool)
            else f"<td>{escape(cell(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def percent_stacks(stacks: dict[str, Sequence[float]]) -> dict[str, list[float]]:
    """Each category's parts as percentages of its total (so small entities stay visible)."""
    n = len(next(iter(stacks.values()), []))
    totals = [sum(vals[i] for vals in stacks.values()) or 1.0 for i in range(n)]
    return {name: [100.0 * v / t for v, t in zip(vals, totals, strict=True)] for name, vals in stacks.items()}


def _figure(svg: str, caption: str) -> str:
    return f'<figure class="chart">{svg}<figcaption class="muted">{escape(caption)}</figcaption></figure>'


def render_report(
    *,
    title: str,
    facts: Sequence[tuple[str, str]],
    timings: Sequence[tuple[str, float]],
    tables: dict[str, int],
    quality: QualityNumbers,
    trends: Sequence[Trend],
    view_tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    sections: Sequence[tuple[str, str, list[str], list[tuple[Any, ...]]]] = (),
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        html_table(["", ""], facts),
        "<h2>Rows per table</h2>",
        html_table(["table", "rows"], sorted(tables.items())),
        "<h2>Data quality: reconciliation</h2>",
        '<p class="muted">Every row read is loaded (on arrival, or later when its parent arrived), still '
        "parked (waiting for its parent) or rejected (quarantined with a reason); per entity from the "
        "ingest ledger and <code>etl.parked_rows</code>.</p>",
    ]
    if quality.entities:
        parts.append(
            _figure(
                bar_chart(
                    "Share of rows read per entity (%)",
                    quality.entities,
                    percent_stacks(
                        {
                            "loaded on arrival": quality.loaded,
                            "loaded after parent": quality.loaded_after_parent,
                            "still parked": quality.parked,
                            "rejected": quality.rejected,
                        }
                    ),
                ),
                "rows_in = loaded + parked + rejected for every object (ledger constraint); counts below",
            )
        )
        parts.append(
            html_table(
                ["entity", "loaded on arrival", "loaded after parent", "still parked", "rejected"],
                [
                    (e, int(a), int(b), int(c), int(d))
                    for e, a, b, c, d in zip(
                        quality.entities,
                        quality.loaded,
                        quality.loaded_after_parent,
                        quality.parked,
                        quality.rejected,
                        strict=True,
                    )
                ],
            )
        )
    if quality.reasons:
        names = list(quality.reasons)
        parts.append(
            _figure(
                bar_chart(
                    "Rejected rows by reason", names, {"rows": [float(quality.reasons[n]) for n in names]}
                ),
                "from the quarantine bucket; a row can carry more than one reason",
            )
        )
    if quality.object_rejections:
        parts.append("<p>Whole objects rejected:</p>")
        parts.append(html_table(["reason", "objects"], sorted(quality.object_rejections.items())))
    if quality.parked_rows:
        parts.append("<p>Parked rows still waiting for a parent:</p>")
        parts.append(html_table(["entity", "parent", "rows"], quality.parked_rows))
    for view, (columns, rows) in view_tables.items():
        parts.append(f"<h3>analytics.{escape(view)}</h3>")
        parts.append(
            f'<div class="wide">{html_table(columns, rows)}</div>'
            if rows
            else '<p class="muted">(no rows)</p>'
        )
    for heading, note, columns, rows in sections:  # (title, note, columns, rows), e.g. alerts
        parts.append(f"<h2>{escape(heading)}</h2>")
        if note:
            parts.append(f'<p class="muted">{escape(note)}</p>')
        parts.append(f'<div class="wide">{html_table(columns, rows)}</div>' if rows else '<p class="muted">(none)</p>')
    parts.append("<h2>Trends (analytics views)</h2>")
    if not trends:
        parts.append('<p class="muted">No trend views found in the analytics schema.</p>')
    for trend in trends:
        parts.append(
            _figure(line_chart(trend.title, trend.x_labels, trend.series), f"analytics.{trend.view}")
        )
    parts.append("<h2>Timings</h2>")
    parts.append(html_table(["stage", "seconds"], [(n, round(s, 1)) for n, s in timings]))
    parts.append("</body></html>")
    return "\n".join(parts)

"""The demo's `report.html`: the run's record as one self-contained file (inline CSS, no scripts,
no CDN; opens offline): facts, rows per table, the data-quality reconciliation, rejects, parked
rows, the reconciliation view and the timings. Charts are the dashboard's (`lake serve --open`,
ADR 0012): one chart implementation, over the API, for everyone."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from local.insights import QualityNumbers
from local.tabular import cell

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:960px}
body{color:#111827}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
td,th{border:1px solid #e5e7eb;padding:.2rem .5rem}
th{background:#f9fafb;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.wide{overflow-x:auto}h3{font-size:1rem}.muted{color:#6b7280;font-size:.85rem}
.note{background:#eff6ff;padding:.5rem .8rem;border-radius:4px}
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


def render_report(
    *,
    title: str,
    facts: Sequence[tuple[str, str]],
    timings: Sequence[tuple[str, float]],
    tables: dict[str, int],
    quality: QualityNumbers,
    dashboard_command: str,
    view_tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    sections: Sequence[tuple[str, str, list[str], list[tuple[Any, ...]]]] = (),
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        html_table(["", ""], facts),
        f'<p class="note">Charts (trends, telemetry, adherence, data quality) are in the dashboard: '
        f"<code>{escape(dashboard_command)}</code> opens it signed in.</p>",
        "<h2>Rows per table</h2>",
        html_table(["table", "rows"], sorted(tables.items())),
        "<h2>Data quality: reconciliation</h2>",
        '<p class="muted">Every row read is loaded (on arrival, or later when its parent arrived), still '
        "parked (waiting for its parent) or rejected (quarantined with a reason); per entity from the "
        "ingest ledger and <code>etl.parked_rows</code>.</p>",
    ]
    if quality.entities:
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
        parts.append("<p>Rejected rows by reason (quarantine bucket; a row can carry more than one reason):</p>")
        parts.append(html_table(["reason", "rows"], list(quality.reasons.items())))
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
    parts.append("<h2>Timings</h2>")
    parts.append(html_table(["stage", "seconds"], [(n, round(s, 1)) for n, s in timings]))
    parts.append("</body></html>")
    return "\n".join(parts)

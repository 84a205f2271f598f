"""The demo's `report.html`: the run's record as one self-contained file (inline CSS, no scripts,
no CDN; opens offline): facts, rows per table, the data-quality reconciliation, rejects, parked
rows, the reconciliation view and the timings. Charts are the dashboard's (`lake serve --open`,
ADR 0012): one chart implementation, over the API, for everyone.

The page is a Jinja2 template (`templates/report.html.j2`) with autoescaping on: every value
from the data (robot ids, reasons, view cells) is escaped by the engine, not by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jinja2

from local.report.insights import QualityNumbers
from local.tabular import cell

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("local.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_ENV.filters["cell"] = cell
_ENV.tests["number_cell"] = lambda v: isinstance(v, int | float) and not isinstance(v, bool)


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
    """The whole HTML page. `sections`: (heading, note, columns, rows) each, e.g. the alerts."""
    reconciliation = [
        (e, int(a), int(b), int(c), int(d))
        for e, a, b, c, d in zip(quality.entities, quality.loaded, quality.loaded_after_parent,
                                 quality.parked, quality.rejected, strict=True)
    ]
    return _ENV.get_template("report.html.j2").render(
        title=title,
        facts=facts,
        dashboard_command=dashboard_command,
        tables=sorted(tables.items()),
        quality=quality,
        reconciliation=reconciliation,
        view_tables=view_tables,
        sections=sections,
        timings=[(name, round(seconds, 1)) for name, seconds in timings],
    )

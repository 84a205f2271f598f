"""Inline SVG charts (line, bar, stacked bar) as strings: no JavaScript, no CDN, opens offline.

Pure functions of their data. Every drawn mark has a class (`series`, `bar`) so a test can
check the rendered DOM for charts that actually have geometry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
_W, _H = 760, 310
_L, _R, _T, _B = 64, 150, 40, 80  # margins: left axis, right legend, title, bottom labels


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return float(step * exp)
    return float(10 * exp)


def _fmt(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.3g}"


def _frame(title: str, y_min: float, y_max: float) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" '
        f'width="{_W}" height="{_H}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_L}" y="18" font-size="14" font-weight="600">{escape(title)}</text>',
    ]
    plot_h = _H - _T - _B
    for i in range(5):
        value = y_min + (y_max - y_min) * i / 4
        y = _T + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{_L}" x2="{_W - _R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(
            f'<text x="{_L - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{_fmt(value)}</text>'
        )
    return parts


def _legend(names: Sequence[str]) -> list[str]:
    parts = []
    for i, name in enumerate(names[:12]):
        y = _T + 14 * i
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{_W - _R + 10}" y="{y}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{_W - _R + 24}" y="{y + 9}" font-size="11">{escape(str(name))[:22]}</text>')
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    """At most ~10 labels, slanted so long names do not collide."""
    step = max(1, math.ceil(len(labels) / 10))
    y = _H - _B + 14
    return [
        f'<text x="{x:.1f}" y="{y}" font-size="10" text-anchor="end" transform="rotate(-30 {x:.1f} {y})">'
        f"{escape(str(lab))[:22]}</text>"
        for i, (lab, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0
    ]


def line_chart(title: str, x_labels: Sequence[str], series: Mapping[str, Sequence[float | None]]) -> str:
    """One polyline per series over shared x labels; missing values (None) are bridged."""
    values = [v for vals in series.values() for v in vals if v is not None]
    lo = min(0.0, min(values, default=0.0))
    hi = _nice_max(max(values, default=1.0))
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    n = max(len(x_labels), 1)
    xs = [_L + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    parts = _frame(title, lo, hi)
    for idx, (name, vals) in enumerate(series.items()):
        color = PALETTE[idx % len(PALETTE)]
        points = [
            (x, _T + plot_h - (v - lo) / (hi - lo) * plot_h)
            for x, v in zip(xs, vals, strict=False)
            if v is not None
        ]
        if len(points) == 1:  # a lone point: a short tick so it stays visible
            ((x, y),) = points
            points = [(x - 3, y), (x + 3, y)]
        cmds = [f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points)]
        if cmds:
            parts.append(
                f'<path class="series" data-series="{escape(name)}" d="{" ".join(cmds)}" fill="none" '
                f'stroke="{color}" stroke-width="2" stroke-linejoin="round"/>'
            )
    parts += _x_labels(x_labels, xs) + _legend(list(series)) + ["</svg>"]
    return "\n".join(parts)


def bar_chart(title: str, categories: Sequence[str], stacks: Mapping[str, Sequence[float]]) -> str:
    """Vertical bars per category; several series stack (e.g. loaded / parked / rejected)."""
    totals = [sum(vals[i] for vals in stacks.values()) for i in range(len(categories))]
    hi = _nice_max(max(totals, default=1.0))
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    n = max(len(categories), 1)
    slot = plot_w / n
    bar_w = max(4.0, slot * 0.6)
    parts = _frame(title, 0.0, hi)
    for i, cat in enumerate(categories):
        x = _L + slot * i + (slot - bar_w) / 2
        base = float(_T + plot_h)
        for idx, (name, vals) in enumerate(stacks.items()):
            h = vals[i] / hi * plot_h if hi else 0.0
            if h <= 0:
                continue
            base -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[idx % len(PALETTE)]}"><title>{escape(str(cat))} {escape(name)}: '
                f"{_fmt(vals[i])}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base - 4:.1f}" font-size="10" '
            f'text-anchor="middle">{_fmt(totals[i])}</text>'
        )
    xs = [_L + slot * i + slot / 2 for i in range(len(categories))]
    parts += _x_labels([str(c) for c in categories], xs)
    if len(stacks) > 1:
        parts += _legend(list(stacks))
    parts.append("</svg>")
    return "\n".join(parts)


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

"""Rows to JSON or CSV: the same rows, the same column order, values in ISO 8601 / UTC."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Sequence
from typing import Any

CSV = "text/csv"
JSON = "application/json"


def plain(value: Any) -> Any:
    """A JSON-safe value: datetimes in UTC ISO 8601 (naive ones are UTC), dates ISO, decimals float."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or Infinity
    return value


def records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [{c: plain(v) for c, v in zip(columns, row, strict=True)} for row in rows]


def to_json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False, default=plain).encode()


def to_csv(columns: Sequence[str], items: Sequence[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(columns)
    for item in items:
        writer.writerow(["" if item.get(c) is None else item.get(c) for c in columns])
    return out.getvalue().encode()

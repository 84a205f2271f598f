"""Serialization (CSV / NDJSON lines) and deterministic file writing (gzip with mtime 0)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

Row = dict[str, object]


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_line(fields: Sequence[object]) -> str:
    """One CSV record (RFC 4180 quoting, no line terminator)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_csv_value(v) for v in fields])
    return buf.getvalue()[:-1]


def csv_row_line(row: Row, header: Sequence[str]) -> str:
    """A row as a CSV record under `header`; absent keys become empty fields."""
    return csv_line([row.get(name) for name in header])


def json_line(row: Row) -> str:
    """A row as one compact NDJSON line; absent keys stay absent."""
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)


def write_bytes(path: Path, data: bytes | np.ndarray, compress: bool) -> None:
    """Write `data`, gzip-compressed when asked: no file name and mtime 0 in the gzip header, so the
    same data always gives the same bytes; level 1, because generating fast matters more here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = data if isinstance(data, bytes) else data.data  # an array's memoryview: no copy
    with path.open("wb") as fh:
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=1) as gz:
                gz.write(buffer)
        else:
            fh.write(buffer)


def file_key(entity: str, stem: str, extension: str, compress: bool) -> str:
    """The raw bucket key (relative path) of a generated file."""
    return f"{entity}/{stem}.{extension}" + (".gz" if compress else "")

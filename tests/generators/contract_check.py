"""An independent checker for generated files: reads them back and applies lake/contract.py.

It shares nothing with the generator but the contract: files are parsed with the csv and json
modules, values checked with the contract's types, ranges, enums, patterns and row checks,
and ingest's outcome rules (reject, park, duplicate, cascade) are simulated from scratch.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lake.contract import ENTITIES, LOAD_ORDER, Column, DType, Entity

ISO_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
INT = re.compile(r"[+-]?\d+")
FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Line:
    """One physical data line: its number, the parsed row (None: malformed) and its raw text."""

    number: int
    row: dict[str, object] | None
    text: str


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def read_lines(path: Path) -> tuple[list[str], list[Line]]:
    """(header, data lines) of a CSV or NDJSON file; blank NDJSON lines are not rows."""
    text = read_text(path)
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()
    name = path.name.removesuffix(".gz")
    out: list[Line] = []
    if name.endswith(".csv"):
        header = next(csv.reader([physical[0]]))
        for number, raw in enumerate(physical[1:], start=2):
            fields = next(csv.reader([raw]))
            row: dict[str, object] | None = (
                dict(zip(header, fields, strict=True)) if len(fields) == len(header) else None)
            out.append(Line(number, row, raw))
        return header, out
    for number, raw in enumerate(physical, start=1):
        if raw.strip() == "":
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        out.append(Line(number, parsed if isinstance(parsed, dict) else None, raw))
    return [], out


def parse_instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def value_reason(col: Column, value: object) -> str | None:
    """The contract reason a single value violates (None when it is fine)."""
    if value is None or value == "":
        return None if col.nullable else "missing_required"
    text = value if isinstance(value, str) else None
    if col.dtype is DType.BOOL:
        ok = isinstance(value, bool) or text in ("true", "false")
        return None if ok else "bad_type"
    if col.dtype in (DType.INT, DType.FLOAT):
        if isinstance(value, bool):
            return "bad_type"
        if isinstance(value, (int, float)):
            number = float(value)
            if col.dtype is DType.INT and not isinstance(value, int):
                return "bad_type"
        elif text is not None and (INT if col.dtype is DType.INT else FLOAT).fullmatch(text):
            number = float(text)
        else:
            return "bad_type"
        if (
            math.isnan(number)
            or (col.min is not None and number < col.min)
            or (col.max is not None and number > col.max)
        ):
            return "out_of_range"
        return None
    if text is None:
        return "bad_type"
    if col.dtype is DType.DATE:
        if not ISO_DATE.fullmatch(text):
            return "bad_timestamp"
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return "bad_timestamp"
        return None
    if col.dtype is DType.TIMESTAMP:
        if not ISO_TS.fullmatch(text):
            return "bad_timestamp"
        try:
            parse_instant(text)
        except ValueError:
            return "bad_timestamp"
        return None
    if col.dtype is DType.STRING and "\x00" in text:
        return "bad_character"
    if col.enum and text not in col.enum:
        return "bad_enum"
    if col.pattern and not re.fullmatch(col.pattern, text):
        return "bad_pattern"
    return None


def row_reasons(entity: Entity, row: dict[str, object]) -> list[str]:
    """Every contract reason the row violates (unknown columns are ignored, as ingest drops them)."""
    reasons = [r for col in entity.columns if (r := value_reason(col, row.get(col.name))) is not None]
    if not reasons:
        for check in entity.row_checks:
            left, right = row.get(check.left), row.get(check.right)
            present = left not in (None, "") and right not in (None, "")
            if present and parse_instant(str(left)) < parse_instant(str(right)):
                reasons.append(check.reason)
    return reasons


@dataclass
class Outcome:
    """Simulated ingest of a whole output folder."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    by_line: dict[tuple[str, int], str] = field(default_factory=dict)  # (key, line) -> outcome
    rows: dict[str, list[tuple[str, int, dict[str, object]]]] = field(default_factory=dict)  # valid rows


def entity_files(out: Path, entity: str) -> list[Path]:
    return sorted(p for p in (out / entity).iterdir() if p.is_file())


def simulate_ingest(out: Path) -> Outcome:
    """Load every file like a correct ingest would, in any order, and report each row's fate."""
    result = Outcome()
    for name, entity in ENTITIES.items():
        result.counts[name] = Counter()
        result.rows[name] = []
        for path in entity_files(out, name):
            key = path.relative_to(out).as_posix()
            _, lines = read_lines(path)
            seen: set[object] = set()
            for line in lines:
                if line.row is None:
                    outcome = "malformed_row"
                else:
                    reasons = row_reasons(entity, line.row)
                    pk = line.row.get(entity.primary_key)
                    if not reasons and pk in seen:
                        reasons = ["duplicate_key"]
                    if not reasons:
                        seen.add(pk)
                        result.rows[name].append((key, line.number, line.row))
                    outcome = (
                        reasons[0] if len(reasons) == 1 else "+".join(sorted(reasons)) if reasons else "valid"
                    )
                result.by_line[(key, line.number)] = outcome
    loaded_keys: dict[str, set[object]] = {}
    for name in (*LOAD_ORDER, "procedure_telemetry"):
        entity = ENTITIES[name]
        loaded: set[object] = set()
        for key, number, row in result.rows[name]:
            parked = any(row.get(fk.column) not in loaded_keys[fk.parent] for fk in entity.parking_parents)
            status = "parked" if parked else "loaded"
            result.by_line[(key, number)] = status if status == "parked" else result.by_line[(key, number)]
            if status == "loaded":
                loaded.add(row.get(entity.primary_key))
        loaded_keys[name] = loaded
    for (key, _), outcome in result.by_line.items():
        entity_name = key.split("/")[0]
        status = outcome if outcome in ("parked",) else "loaded" if outcome == "valid" else "rejected"
        result.counts[entity_name][status] += 1
    return result

"""Realistic defects, one per corrupted row, chosen from the contract's rules.

Every defect kind maps to exactly one outcome (`lake.contract.DEFECT_OUTCOMES`), so the ground
truth can say which reason ingest must give. Values are picked so that no second rule fires:
out-of-range values are valid numbers, orphan keys match the key pattern, a bad type is a
word where a number or boolean belongs, a NUL goes into free text no pattern or enum reads,
and so on.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np

from lake.contract import DEFECT_OUTCOMES, DType, Entity

Row = dict[str, object]

# Words no CSV reader takes for a null (pyarrow's defaults include "", "NA", "N/A", "null", ...).
_BAD_NUMBERS = ("twelve", "high", "12.5.1", "approx 40")
_BAD_INTS = ("two", "first", "3rd")
_BAD_BOOLS = ("maybe", "tbd", "yes-ish")
_BAD_ENUMS = ("other", "pending", "deferred", "unknown-state")
_BAD_TIMESTAMPS = ("03/15/2025 09:30", "2025-02-30T10:00:00Z", "2025-03-15 25:61:00", "15.03.2025 14:22")
_BAD_DATES = ("15/03/1965", "1965-02-30", "March 3rd 1971", "19650315x")
ORPHAN_PREFIX = {"robot_id": ("ROBOT-", 9_000, 4), "procedure_id": ("PROC-", 900_000, 6)}


@dataclass(frozen=True)
class Defect:
    kind: str
    column: str | None

    def expected(self, entity: Entity) -> str:
        """The outcome ingest must give the row (`parked`, `loaded` or a rejection reason)."""
        if self.kind == "orphan_fk":
            fk = next(f for f in entity.foreign_keys if f.column == self.column)
            return "parked" if fk.parks else "loaded"
        return DEFECT_OUTCOMES[self.kind]


def _free_text(entity: Entity) -> list[str]:
    """Text columns no other rule reads (no pattern or enum, not PHI, not the key)."""
    return [c.name for c in entity.columns if c.dtype is DType.STRING and not c.pattern and not c.enum
            and not c.is_phi and c.name != entity.primary_key]


def applicable_kinds(entity: Entity) -> list[str]:
    """Defect kinds the entity's rules allow, in the contract's order."""
    cols = entity.columns
    present = {
        "malformed_row": True,
        "missing_required": len(entity.required_columns) > 1,
        "bad_type": any(c.dtype in (DType.INT, DType.FLOAT, DType.BOOL) for c in cols),
        "bad_timestamp": any(c.dtype in (DType.DATE, DType.TIMESTAMP) for c in cols),
        "out_of_range": any(c.min is not None or c.max is not None for c in cols),
        "bad_enum": any(c.enum for c in cols),
        "bad_character": bool(_free_text(entity)),
        "inconsistent": bool(entity.row_checks),
        "duplicate_key": True,
        "orphan_fk": bool(entity.foreign_keys),
    }
    return [k for k in DEFECT_OUTCOMES if present[k]]


def candidate_columns(entity: Entity, kind: str, row: Row) -> list[str]:
    """Columns of this row a defect of `kind` can hit (empty: the row cannot take it)."""
    cols = entity.columns
    if kind == "missing_required":
        return [c.name for c in cols if not c.nullable and c.name != entity.primary_key]
    if kind == "bad_type":
        return [c.name for c in cols if c.dtype in (DType.INT, DType.FLOAT, DType.BOOL)]
    if kind == "bad_timestamp":
        return [c.name for c in cols if c.dtype in (DType.DATE, DType.TIMESTAMP)]
    if kind == "out_of_range":
        return [c.name for c in cols if c.min is not None or c.max is not None]
    if kind == "bad_enum":
        return [c.name for c in cols if c.enum]
    if kind == "bad_character":
        return [name for name in _free_text(entity) if row.get(name)]
    if kind == "inconsistent":
        return [
            rc.left
            for rc in entity.row_checks
            if row.get(rc.left) is not None and row.get(rc.right) is not None
        ]
    if kind == "orphan_fk":
        return [fk.column for fk in entity.foreign_keys]
    if kind == "duplicate_key":
        return [entity.primary_key]
    return []


def orphan_key(column: str, counter: int) -> str:
    """A key that matches the parent's pattern but never exists (generated keys stay below it)."""
    prefix, base, width = ORPHAN_PREFIX[column]
    return f"{prefix}{base + counter % (10**width - base):0{width}d}"


def _out_of_range(entity: Entity, column: str, rng: np.random.Generator) -> float | int:
    col = entity.column(column)
    lo, hi = col.min, col.max
    span = (hi - lo) if lo is not None and hi is not None else 100.0
    if hi is not None and (lo is None or rng.random() < 0.5):
        value = hi + max(1.0, span * float(rng.uniform(0.2, 2.5)))
    else:
        assert lo is not None
        value = lo - max(1.0, span * float(rng.uniform(0.01, 0.2)))
    return int(value) if col.dtype is DType.INT else round(value, 2)


def _earlier(text: str, minutes: int) -> str:
    """The timestamp `text` moved earlier, written in the same style (Z, offset or naive)."""
    parsed = dt.datetime.fromisoformat(text) - dt.timedelta(minutes=minutes)
    out = parsed.isoformat(timespec="seconds")
    return out.replace("+00:00", "Z") if text.endswith("Z") else out


def corrupt(entity: Entity, row: Row, defect: Defect, rng: np.random.Generator, orphan: int) -> Row:
    """A copy of `row` carrying exactly one defect (not used for malformed rows or duplicates)."""
    out = dict(row)
    col = defect.column
    assert col is not None
    dtype = entity.column(col).dtype
    pick = lambda options: options[int(rng.integers(0, len(options)))]  # noqa: E731
    if defect.kind == "missing_required":
        del out[col]
    elif defect.kind == "bad_type":
        out[col] = pick(
            _BAD_BOOLS if dtype is DType.BOOL else _BAD_INTS if dtype is DType.INT else _BAD_NUMBERS
        )
    elif defect.kind == "bad_timestamp":
        out[col] = pick(_BAD_DATES if dtype is DType.DATE else _BAD_TIMESTAMPS)
    elif defect.kind == "out_of_range":
        out[col] = _out_of_range(entity, col, rng)
    elif defect.kind == "bad_enum":
        out[col] = pick(_BAD_ENUMS)
    elif defect.kind == "bad_character":  # a legacy export's stray NUL byte
        text = str(row[col])
        at = int(rng.integers(0, len(text) + 1))
        out[col] = f"{text[:at]}\x00{text[at:]}"
    elif defect.kind == "inconsistent":
        check = next(rc for rc in entity.row_checks if rc.left == col)
        out[col] = _earlier(str(row[check.right]), int(rng.integers(5, 180)))
    elif defect.kind == "orphan_fk":
        out[col] = orphan_key(col, orphan)
    else:
        raise ValueError(f"corrupt() does not handle {defect.kind}")
    return out


def truncated_json(line: str, rng: np.random.Generator) -> str:
    """An NDJSON line cut off mid-write: never parses as a JSON object."""
    cut = int(rng.integers(len(line) // 4, 3 * len(line) // 4))
    text = line[:cut]
    try:
        json.loads(text)
    except ValueError:
        return text
    return text + '{"'

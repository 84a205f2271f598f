"""PHI in the wrong column: MRN, SSN and date-of-birth shapes in text that is not a PHI column.

Hospital exports put patient data where it does not belong ("DOB 03/04/1935 MRN12345678" in
`procedure_type`). What is screened, with one vectorized RE2 search per column and batch:
- every free-text column (`Column.is_free_text`: string, no pattern, no enum), on every row:
  those values load into RDS;
- the values of patterned or enumerated string columns that fail their rule, on rows already
  rejected: those values would be echoed to quarantine.
A hit rejects the row `phi_in_free_text` and blanks that value in the typed and the received
tables, so it is stored nowhere and copied nowhere (quarantine keeps the line number and the
reason; the versioned raw object keeps the original for an authorized person).

Shapes (case-insensitive): an `MRN` label or a run of 7+ digits (MRNs are commonly 7-10
digits, SSNs 9); an SSN written 123-45-6789 or 123 45 6789, or an `SSN`/"social security"
label; a `DOB`/"date of birth"/"birth date"/"born" label, or a numeric calendar date with a
19xx/20xx year (any date tied to a patient is PHI under 45 CFR 164.514(b)(2)(i)(C)). Names have
no shape: a name in `surgeon_id` is refused by that column's pattern, not here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake.contract import Column, DType, Entity
from lambdas.ingest.validate import Validated

REASON = "phi_in_free_text"
SHAPES: dict[str, str] = {
    "mrn": r"\bMRN(?:\b|[\s:#-]*\d)|medical record|\b\d{7,}\b",
    "ssn": r"\b\d{3}[- ]\d{2}[- ]\d{4}\b|\bSSN\b|social security",
    "dob": r"\bD\.?O\.?B\b|date of birth|birth ?date|\bborn\b"
           r"|\b\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}\b|\b(?:19|20)\d{2}[/.-]\d{1,2}[/.-]\d{1,2}\b",
}
PHI_SHAPE = "|".join(f"(?:{shape})" for shape in SHAPES.values())


def _mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def phi_shaped(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Rows whose text holds an MRN, SSN or date-of-birth shape (bool per row, NULL -> False)."""
    return _mask(pc.match_substring_regex(values, PHI_SHAPE, ignore_case=True))


def _breaks_rule(values: pa.Array | pa.ChunkedArray, col: Column) -> np.ndarray:
    if col.pattern is not None:
        return ~_mask(pc.match_substring_regex(values, f"^(?:{col.pattern})$"))
    return ~_mask(pc.is_in(values, pa.array(col.enum)))


def find(checked: Validated, entity: Entity) -> dict[str, np.ndarray]:
    """Column name -> rows whose value in it is PHI-shaped (only columns with a hit)."""
    rejected = checked.rejected
    hits: dict[str, np.ndarray] = {}
    for col in entity.columns:
        if col.dtype is not DType.STRING or col.pseudonym is not None:
            continue
        values = checked.table.column(col.name)
        if col.is_free_text:
            hit = phi_shaped(values)
        elif rejected.any():
            rows = np.flatnonzero(rejected)
            subset = values.take(pa.array(rows))
            hit = np.zeros(len(values), dtype=bool)
            hit[rows] = _breaks_rule(subset, col) & phi_shaped(subset)
        else:
            continue
        if hit.any():
            hits[col.name] = hit
    return hits


def _blank(table: pa.Table, name: str, rows: np.ndarray) -> pa.Table:
    column = table.column(name)
    blanked = pc.if_else(pa.array(rows), pa.scalar(None, column.type), column)
    return table.set_column(table.schema.get_field_index(name), table.schema.field(name), blanked)


def screen(checked: Validated, entity: Entity) -> Validated:
    """`checked` with PHI-shaped values blanked (typed and received) and their rows `phi_in_free_text`."""
    hits = find(checked, entity)
    if not hits:
        return checked
    table, raw, any_hit = checked.table, checked.raw, np.zeros(checked.table.num_rows, dtype=bool)
    for name, rows in hits.items():
        table, raw, any_hit = _blank(table, name, rows), _blank(raw, name, rows), any_hit | rows
    return dataclasses.replace(checked, table=table, raw=raw, reasons={**checked.reasons, REASON: any_hit})

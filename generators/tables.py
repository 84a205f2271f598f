"""Write a transactional table as raw files, injecting defects and recording expected outcomes.

The expected outcome of each row follows ingest's rules: a defective row is rejected; a row
whose parent key is absent from every file, or whose parent is rejected or parked, is parked;
later copies of a key in the same file are rejected as duplicates (the first one wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generators.defects import Defect, applicable_kinds, candidate_columns, corrupt, truncated_json
from generators.ledger import Ledger
from generators.options import Options
from generators.records import Row, Table
from generators.writer import csv_line, csv_row_line, file_key, json_line, write_bytes
from lake.contract import ENTITIES, Entity

UNKNOWN_COLUMN = ("surgical_procedures", "patient_ssn")  # a hospital export with a column we never asked for


@dataclass
class _Item:
    """One physical data line of a file being assembled."""

    row: Row
    defect: Defect | None = None
    status: str = "loaded"


def defect_count(rate: float, rows: int, kinds: int) -> int:
    """round(rate * rows), but every kind at least once in a table of 100 rows or more."""
    if rate <= 0 or rows == 0:
        return 0
    return min(rows // 2, max(round(rate * rows), kinds if rows >= 100 else 0))


def plan_defects(
    entity: Entity, rows: list[Row], rate: float, rng: np.random.Generator
) -> tuple[dict[int, Defect], int]:
    """Defects for rows (by index), one per row, plus how many duplicate copies to add."""
    kinds = applicable_kinds(entity)
    count = defect_count(rate, len(rows), len(kinds))
    order = [kinds[i] for i in rng.permutation(len(kinds))]
    sequence = [order[i % len(order)] for i in range(count)]
    chosen: dict[int, Defect] = {}
    free = [int(i) for i in rng.permutation(len(rows))]
    for kind in sequence:
        if kind == "duplicate_key":
            continue
        if kind == "malformed_row":
            chosen[free.pop(0)] = Defect(kind, None)
            continue
        for pos, idx in enumerate(free):
            columns = candidate_columns(entity, kind, rows[idx])
            if columns:
                chosen[idx] = Defect(kind, columns[int(rng.integers(0, len(columns)))])
                free.pop(pos)
                break
    return chosen, sequence.count("duplicate_key")


def row_status(entity: Entity, row: Row, defect: Defect | None, parents: dict[str, dict[str, str]]) -> str:
    """What ingest must do with this row once every file is loaded."""
    if defect is not None:
        return "parked" if defect.expected(entity) == "parked" else "rejected"
    for fk in entity.parking_parents:
        if parents[fk.parent].get(str(row.get(fk.column))) != "loaded":
            return "parked"
    return "loaded"


def write_table(
    table: Table,
    out: Path,
    opts: Options,
    ledger: Ledger,
    statuses: dict[str, dict[str, str]],
    rng: np.random.Generator,
    ssn_rng: np.random.Generator,
) -> None:
    """Write `table`'s files; adds `statuses[entity][key] = outcome` for the children that follow."""
    entity = ENTITIES[table.entity]
    dirty = opts.dirty_rate > 0
    defects, duplicates = plan_defects(entity, table.rows, opts.dirty_rate, rng) if dirty else ({}, 0)
    orphans = 0
    items: dict[str, list[_Item]] = {}
    keys: dict[str, str] = {}
    for idx, (row, stem) in enumerate(zip(table.rows, table.files, strict=True)):
        defect = defects.get(idx)
        status = row_status(entity, row, defect, statuses)
        keys[str(row[entity.primary_key])] = status
        if defect is not None and defect.kind not in ("malformed_row",):
            row = corrupt(entity, row, defect, rng, orphans)
            orphans += defect.kind == "orphan_fk"
        items.setdefault(stem, []).append(_Item(row, defect, status))
    statuses[entity.name] = keys
    _add_duplicates(items, duplicates, rng)
    first_stem = min(items) if items else ""
    for stem, file_items in sorted(items.items()):
        extra = dirty and (entity.name, stem) == (UNKNOWN_COLUMN[0], first_stem)
        _write_file(entity, stem, file_items, out, opts, ledger, rng, ssn_rng if extra else None)


def _add_duplicates(items: dict[str, list[_Item]], count: int, rng: np.random.Generator) -> None:
    """Insert `count` later copies of clean, loaded rows in the same file as their original."""
    sources = [
        (stem, pos)
        for stem, file_items in sorted(items.items())
        for pos, item in enumerate(file_items)
        if item.defect is None and item.status == "loaded"
    ]
    picks = sorted(
        rng.choice(len(sources), size=min(count, len(sources)), replace=False).tolist(), reverse=True
    )
    for pick in picks:  # from the end backwards, so earlier positions stay valid
        stem, pos = sources[pick]
        file_items = items[stem]
        copy = _Item(dict(file_items[pos].row), Defect("duplicate_key", None), "rejected")
        file_items.insert(int(rng.integers(pos + 1, len(file_items) + 1)), copy)


def _write_file(
    entity: Entity,
    stem: str,
    items: list[_Item],
    out: Path,
    opts: Options,
    ledger: Ledger,
    rng: np.random.Generator,
    ssn_rng: np.random.Generator | None,
) -> None:
    ext = opts.format
    key = file_key(entity.name, stem, ext, opts.gzip)
    header = list(entity.column_names)
    if ssn_rng is not None:
        header.append(UNKNOWN_COLUMN[1])
        ledger.entities[entity.name].unknown_columns[key] = [UNKNOWN_COLUMN[1]]
        for item in items:
            area, group, serial = (
                ssn_rng.integers(100, 900),
                ssn_rng.integers(10, 99),
                ssn_rng.integers(1000, 9999),
            )
            item.row = {**item.row, UNKNOWN_COLUMN[1]: f"{area}-{group}-{serial}"}
    lines = [csv_line(header)] if ext == "csv" else []
    first_line = len(lines) + 1
    for offset, item in enumerate(items):
        if item.defect is not None and item.defect.kind == "malformed_row":
            lines.append(_malformed(item.row, header, ext, rng))
        else:
            lines.append(csv_row_line(item.row, header) if ext == "csv" else json_line(item.row))
        ledger.add_rows(entity.name, item.status)
        if item.defect is not None:
            defect = item.defect
            if defect.kind == "duplicate_key":
                defect = Defect("duplicate_key", entity.primary_key)
            ledger.add_defect(key, entity.name, first_line + offset, defect)
    write_bytes(out / key, ("\n".join(lines) + "\n").encode(), opts.gzip)
    ledger.add_file(entity.name, key)


def _malformed(row: Row, header: list[str], ext: str, rng: np.random.Generator) -> str:
    """A CSV record with one field too many or too few, or a cut-off NDJSON line."""
    if ext != "csv":
        return truncated_json(json_line(row), rng)
    fields: list[object] = [row.get(name) for name in header]
    if rng.random() < 0.5:
        fields.append("see attached note")
    else:
        fields.pop(int(rng.integers(0, len(fields))))
    return csv_line(fields)

"""Write telemetry as one NDJSON file per UTC day, with defects spliced into the written lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from generators.defects import Defect, applicable_kinds, candidate_columns, corrupt, truncated_json
from generators.ledger import Ledger
from generators.options import Options
from generators.records import TelemetryPlan
from generators.telemetry import day_chunks, ndjson_lines
from generators.writer import file_key, json_line, write_bytes
from lake.contract import ENTITIES
from lambdas.ingest.prefetch import prefetch  # the next chunk is generated while this one is written

ENTITY = ENTITIES["procedure_telemetry"]
EPOCH = dt.date(1970, 1, 1)
CHUNK_ROWS = 200_000  # samples generated per step: small enough to overlap, large enough to vectorize


def write_telemetry(plan: TelemetryPlan, out: Path, opts: Options, ledger: Ledger) -> Iterator[int]:
    """Write every day file; yields the rows of each file as it is written (for progress bars)."""
    kinds = applicable_kinds(ENTITY)
    number = 0
    chunks = day_chunks(plan, opts.samples_per_procedure, opts.seed, chunk_rows=CHUNK_ROWS)
    for frame, spans in prefetch(chunks):
        data, offsets = ndjson_lines(frame)
        for day, lo, hi in spans:
            stem = f"telemetry_{EPOCH + dt.timedelta(days=day):%Y-%m-%d}"
            key = file_key(ENTITY.name, stem, "ndjson", opts.gzip)
            text: bytes | np.ndarray = data[offsets[lo] : offsets[hi]]
            rows = hi - lo
            if opts.dirty_rate > 0:
                rng = np.random.default_rng([opts.seed, 10, day])
                count = int(rng.binomial(rows, opts.dirty_rate))
                if number == 0:  # the first file shows every kind, and one blank line (not a row)
                    count = max(count, len(kinds))
                part = frame.slice(lo, rows)
                assert isinstance(text, np.ndarray)
                text, _ = _inject(
                    part, text.tobytes(), min(count, rows // 2), kinds, rng, key, ledger, number == 0
                )
            else:
                ledger.add_rows(ENTITY.name, "loaded", rows)
            write_bytes(out / key, text, opts.gzip)
            ledger.add_file(ENTITY.name, key)
            number += 1
            yield rows


def _inject(
    frame: pl.DataFrame,
    data: bytes,
    count: int,
    kinds: list[str],
    rng: np.random.Generator,
    key: str,
    ledger: Ledger,
    blank: bool,
) -> tuple[bytes, int]:
    """Replace `count` lines with defective ones (or add duplicates); returns (bytes, rows in)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    order = [kinds[i] for i in rng.permutation(len(kinds))]
    sequence = [order[i % len(order)] for i in range(count)]
    picked = rng.choice(len(lines), size=count, replace=False)
    defects: dict[int, Defect] = {}
    duplicates: list[int] = []
    for kind, idx in zip(sequence, picked.tolist(), strict=True):
        if kind == "duplicate_key":
            duplicates.append(idx)
            continue
        row = frame.row(idx, named=True)
        row.pop("_t")
        columns = candidate_columns(ENTITY, kind, row)
        defect = Defect(
            kind, None if kind == "malformed_row" else columns[int(rng.integers(0, len(columns)))]
        )
        defects[idx] = defect
        if kind == "malformed_row":
            lines[idx] = truncated_json(lines[idx].decode(), rng).encode()
        else:
            lines[idx] = json_line(corrupt(ENTITY, row, defect, rng, int(rng.integers(0, 99_999)))).encode()
    # Lines as (text, defect); duplicates are inserted after their original, latest first.
    annotated: list[tuple[bytes, Defect | None]] = [(line, defects.get(i)) for i, line in enumerate(lines)]
    for idx in sorted(duplicates, reverse=True):
        at = int(rng.integers(idx + 1, len(lines) + 1))
        annotated.insert(at, (lines[idx], Defect("duplicate_key", ENTITY.primary_key)))
    rows_in = len(annotated)
    if blank:
        annotated.insert(int(rng.integers(1, len(annotated))), (b"", None))
    for number, (_, found) in enumerate(annotated, start=1):
        if found is not None:
            ledger.add_defect(key, ENTITY.name, number, found)
            ledger.add_rows(ENTITY.name, "loaded" if found.expected(ENTITY) == "loaded" else "rejected")
    ledger.add_rows(ENTITY.name, "loaded", rows_in - sum(d is not None for _, d in annotated))
    return b"\n".join(text for text, _ in annotated) + b"\n", rows_in

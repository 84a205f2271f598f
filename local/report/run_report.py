"""The JSON report of `lake run`: per-object outcome, table counts, parked and quarantined rows.

Object statuses come from the ledger: `skipped` when the object (key + content checksum) had
already finished before this run; otherwise the ledger's `loaded`/`partial`/`rejected` (or
`superseded`: an older version of a lake key processed after a newer one, nothing written), and
`failed` when it is still failed/processing or never reached the ledger (e.g. sent to the
DLQ). Counts of a skipped object are zero: they are what this run did.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from lake.contract import FINISHED_STATUSES, LAKE_TABLES, LOAD_ORDER, SKIPPED, LedgerStatus
from lake.layout import entity_of_key
from local.report.ledger_reader import LedgerEntry
from local.stack.aws_resources import TELEMETRY_TABLE

REPORT_TABLES = (*LOAD_ORDER, TELEMETRY_TABLE, "telemetry_hourly")
STATUSES = (*(str(s) for s in FINISHED_STATUSES), SKIPPED, str(LedgerStatus.FAILED))


@dataclass(frozen=True)
class UploadedObject:
    key: str
    md5: str  # hex digest of the bytes: the ETag of a single-part upload


def _entry_for(obj: UploadedObject, entries: list[LedgerEntry]) -> LedgerEntry | None:
    """The ledger row of this upload: checksum match, else the most recent row for the key."""
    for entry in entries:
        if entry.content_checksum.strip('"') == obj.md5:
            return entry
    return max(entries, key=_recency, default=None)


def _recency(entry: LedgerEntry) -> float:
    when = entry.started_at or entry.first_seen_at or entry.finished_at
    return when.timestamp() if when else 0.0


def object_outcomes(
    uploaded: list[UploadedObject], before: list[LedgerEntry], after: list[LedgerEntry]
) -> list[dict[str, Any]]:
    """One report row per uploaded object, from ledger snapshots taken before and after."""
    finished_before = {e.identity for e in before if e.finished}
    by_key: dict[str, list[LedgerEntry]] = {}
    for done in after:
        by_key.setdefault(done.object_key, []).append(done)
    out = []
    for obj in uploaded:
        entry = _entry_for(obj, by_key.get(obj.key, []))
        row: dict[str, Any] = {
            "key": obj.key,
            "entity": (entry.entity if entry and entry.entity else entity_of_key(obj.key)),
            "status": "failed",
            "rows_in": 0,
            "rows_loaded": 0,
            "rows_parked": 0,
            "rows_rejected": 0,
            "unknown_columns": [],
            "reason": None,  # the whole-object reason of a `rejected` object
        }
        if entry is not None and entry.identity in finished_before:
            row["status"] = "skipped"
        elif entry is not None and entry.finished:
            row.update(
                status=entry.status,
                rows_in=entry.rows_in,
                rows_loaded=entry.rows_loaded,
                rows_parked=entry.rows_parked,
                rows_rejected=entry.rows_rejected,
                unknown_columns=list(entry.unknown_columns),
                reason=entry.error if entry.status == "rejected" else None,
            )
        out.append(row)
    return out


def parquet_rows(folder: Path) -> int:
    """Rows in every Parquet file under folder (footer metadata only)."""
    if not folder.exists():
        return 0
    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.rglob("*.parquet"))


def rds_counts(conn: Any) -> dict[str, int]:
    return {
        entity: int(conn.execute(f'SELECT count(*) FROM public."{entity}"').fetchone()[0])
        for entity in LOAD_ORDER
    }


def lake_counts(lake_root: Path) -> dict[str, int]:
    return {name: parquet_rows(lake_root / name) for name in (TELEMETRY_TABLE, *LAKE_TABLES)}


@dataclass(frozen=True)
class QuarantineStats:
    rows: int
    reasons: Counter[str]  # reason -> rows carrying it (a row can carry several)


def quarantine_stats(quarantine_root: Path) -> QuarantineStats:
    """Rows and reasons in the reject files; a file's last line may stand for `omitted_rows`
    rejects that were only counted (past the quarantine spool limit)."""
    rows = 0
    reasons: Counter[str] = Counter()
    if quarantine_root.exists():
        for path in quarantine_root.rglob("*.rejects.ndjson"):
            with path.open() as fh:
                for line in fh:
                    if line.strip():
                        record = json.loads(line)
                        if "omitted_rows" in record:
                            rows += record["omitted_rows"]
                            reasons.update(record["omitted_reasons"])
                        else:
                            rows += 1
                            reasons.update(set(record.get("reasons") or ["unknown"]))
    return QuarantineStats(rows, reasons)


def build_report(
    objects: list[dict[str, Any]],
    rds: dict[str, int],
    lake: dict[str, int],
    parked: int,
    quarantined_rows: int,
) -> dict[str, Any]:
    counts = {**rds, **lake}
    return {
        "objects": objects,
        "tables": {name: counts.get(name, 0) for name in REPORT_TABLES},
        "parked": parked,
        "quarantined_rows": quarantined_rows,
    }

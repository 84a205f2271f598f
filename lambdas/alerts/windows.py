"""Export the procedure windows from RDS for the rollup job (`lake.contract.PROCEDURE_WINDOWS`).

The Glue job has no database access; before each run it asks the alerts function to write
the windows of performed procedures (procedure_id, robot_id, actual_start, actual_end: no PHI)
to `<processed>/_reference/procedure_windows/date=YYYY-MM-DD/windows.parquet`, one partition per
UTC date a window overlaps. Only partitions whose content changed are rewritten (compared by
MD5 with the object's ETag), so the job's fingerprints change exactly when a date's windows
do; partitions whose date no longer has a window are deleted.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from lake.contract import PROCEDURE_WINDOWS, REFERENCE_DIR, arrow_schema

PREFIX = f"{REFERENCE_DIR}/{PROCEDURE_WINDOWS.name}/"
FILE_NAME = "windows.parquet"
_WINDOWS = """
SELECT to_char(d, 'YYYY-MM-DD') AS date, p.procedure_id, p.robot_id, p.actual_start, p.actual_end
FROM surgical_procedures AS p
CROSS JOIN LATERAL generate_series(
    date_trunc('day', p.actual_start AT TIME ZONE 'UTC'),
    (p.actual_end AT TIME ZONE 'UTC') - interval '1 millisecond',
    interval '1 day') AS d
WHERE p.status <> 'cancelled' AND p.actual_start IS NOT NULL AND p.actual_end > p.actual_start
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class Exported:
    dates: int
    written: int
    deleted: int


def window_rows(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """date -> the windows overlapping that UTC date, ordered by procedure_id."""
    by_date: dict[str, list[dict[str, Any]]] = {}
    for day, procedure, robot, start, end in conn.execute(_WINDOWS):
        by_date.setdefault(day, []).append(
            {"procedure_id": procedure, "robot_id": robot, "actual_start": start, "actual_end": end})
    return by_date


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    """Deterministic Parquet for one date (same rows, same bytes: the ETag comparison relies on it)."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(PROCEDURE_WINDOWS.columns)), buffer,
                   compression="snappy")
    return buffer.getvalue()


def export_windows(conn: psycopg.Connection, s3: Any, bucket: str) -> Exported:
    """Make `_reference/procedure_windows/` in `bucket` equal RDS's performed procedures."""
    wanted = {f"{PREFIX}date={day}/{FILE_NAME}": parquet_bytes(rows) for day, rows in window_rows(conn).items()}
    existing: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        existing.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
    written = 0
    for key, body in sorted(wanted.items()):
        if existing.get(key) != hashlib.md5(body, usedforsecurity=False).hexdigest():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            written += 1
    stale = sorted(set(existing) - set(wanted))
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]]})
    return Exported(len(wanted), written, len(stale))

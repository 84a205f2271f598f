"""Read the ingest ledger (`etl.ingest_ledger`) and parked rows; the source of run outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lake.contract import FINISHED_STATUSES

FINISHED = tuple(str(s) for s in FINISHED_STATUSES)


@dataclass(frozen=True)
class LedgerEntry:
    object_key: str
    content_checksum: str
    entity: str | None
    status: str
    rows_in: int
    rows_loaded: int
    rows_parked: int
    rows_rejected: int
    replays_skipped: int
    error: str | None
    first_seen_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int = 0
    error_detail: str | None = None
    unknown_columns: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def identity(self) -> tuple[str, str]:
        return self.object_key, self.content_checksum


_COLUMNS = ", ".join(LedgerEntry.__dataclass_fields__)


def read_ledger(conn: Any) -> list[LedgerEntry]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM etl.ingest_ledger ORDER BY object_key, first_seen_at"
    ).fetchall()
    out = []
    for row in rows:
        values = dict(zip(LedgerEntry.__dataclass_fields__, row, strict=True))
        values["unknown_columns"] = tuple(values["unknown_columns"] or ())
        out.append(LedgerEntry(**values))
    return out


def stale_processing(conn: Any, timeout_seconds: int) -> list[tuple[str, str | None, int, datetime]]:
    """(key, entity, attempts, started_at) of `processing` rows older than the function's timeout.

    No attempt can still be running: it died (a timeout, a lost database) and its message is
    either being retried or in the DLQ. The next delivery claims the row again.
    """
    return conn.execute(
        "SELECT object_key, entity, attempts, started_at FROM etl.ingest_ledger WHERE status = 'processing'"
        " AND started_at < now() - make_interval(secs => %s) ORDER BY started_at",
        (timeout_seconds,),
    ).fetchall()


def unknown_columns(conn: Any) -> list[tuple[str | None, str, int, datetime | None]]:
    """(entity, column name, objects naming it, latest) for names the contract lacks."""
    return conn.execute(
        "SELECT entity, name, count(*), max(finished_at)"
        " FROM etl.ingest_ledger, unnest(unknown_columns) AS name"
        " GROUP BY entity, name ORDER BY entity NULLS LAST, name"
    ).fetchall()


def parked_refusals(conn: Any) -> list[tuple[str, str, int, datetime | None]]:
    """(entity, reason, rows, latest) of parked rows the database refused when their parent came."""
    return conn.execute(
        "SELECT entity, reason, count(*), max(rejected_at) FROM etl.parked_rejects"
        " GROUP BY entity, reason ORDER BY entity, reason"
    ).fetchall()


def finished_identity(conn: Any, key: str, etag: str | None, version_id: str | None) -> bool:
    """Whether the object a notification names (key + ETag, or its version) has finished."""
    row = conn.execute(
        "SELECT 1 FROM etl.ingest_ledger WHERE object_key = %s AND status = ANY(%s)"
        " AND (content_checksum = %s OR (%s::text IS NOT NULL AND version_id = %s)) LIMIT 1",
        (key, list(FINISHED), f"etag:{(etag or '').strip(chr(34))}", version_id, version_id),
    ).fetchone()
    return row is not None


def ledger_totals(conn: Any) -> list[tuple[str | None, str, int, int, int, int, int]]:
    """(entity, status, objects, rows_in, loaded, parked, rejected) per entity and status."""
    return conn.execute(
        "SELECT entity, status, count(*), sum(rows_in)::bigint, sum(rows_loaded)::bigint,"
        " sum(rows_parked)::bigint, sum(rows_rejected)::bigint"
        " FROM etl.ingest_ledger GROUP BY entity, status ORDER BY entity NULLS LAST, status"
    ).fetchall()


def object_rejections(conn: Any) -> dict[str, int]:
    """Whole-object rejection reason (ledger `error`) -> objects."""
    rows = conn.execute(
        "SELECT error, count(*) FROM etl.ingest_ledger WHERE status = 'rejected' AND error IS NOT NULL"
        " GROUP BY error ORDER BY count(*) DESC"
    ).fetchall()
    return {str(reason): int(n) for reason, n in rows}


def parked_summary(conn: Any) -> list[tuple[str, str, int, datetime | None]]:
    """(entity, parent_entity, rows, oldest parked_at): what still waits for a parent."""
    return conn.execute(
        "SELECT entity, parent_entity, count(*), min(parked_at) FROM etl.parked_rows"
        " GROUP BY entity, parent_entity ORDER BY entity, parent_entity"
    ).fetchall()


def parked_total(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM etl.parked_rows").fetchone()[0])

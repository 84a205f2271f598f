"""Read the ingest ledger (`etl.ingest_ledger`) and parked rows; the source of run outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

FINISHED = ("loaded", "partial", "rejected")


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
    return [LedgerEntry(*row) for row in rows]


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

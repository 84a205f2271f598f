"""`etl.ingest_ledger`: one row per object identity (key + content checksum).

`claim` counts the attempt in its own short transaction, so a failed attempt still shows.
Attempts are at least SQS's receive count of the message, so attempts that could not reach
the database (an outage) are counted by the first one that can. Any unfinished row can be
claimed again: `processing` left by an attempt that died (a timeout, a lost connection) is
taken over by the next delivery, and reported stale by `lake status` once it is older than
the function's timeout. `lock` then serializes every worker holding the same key
(`pg_advisory_xact_lock`), and `finished` re-checks under the lock: two workers receiving the
same object at once load it once; the second sees it finished and only increments
`replays_skipped`. The final row is written by `finish` in the transaction that loads the
rows, so they commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from lake.contract import FINISHED_STATUSES, LedgerStatus
from lambdas.ingest.source import SourceObject

FINISHED = [str(s) for s in FINISHED_STATUSES]


@dataclass
class Counts:
    rows_in: int = 0
    rows_loaded: int = 0
    rows_parked: int = 0
    rows_rejected: int = 0

    @property
    def status(self) -> LedgerStatus:
        """The status these counts give a read object: loaded, partial or rejected."""
        if self.rows_rejected == 0:
            return LedgerStatus.LOADED
        return LedgerStatus.REJECTED if self.rows_rejected == self.rows_in else LedgerStatus.PARTIAL


def claim(conn: psycopg.Connection, obj: SourceObject, entity: str | None, receive_count: int = 1) -> bool:
    """Record an attempt; False when this identity already finished (a replay: counted, skipped).

    `receive_count` is SQS's ApproximateReceiveCount of the message (1 when unknown).
    """
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO etl.ingest_ledger AS l (object_key, content_checksum, version_id, entity,"
            " src_modified, status, attempts, started_at)"
            " VALUES (%(key)s, %(sum)s, %(version)s, %(entity)s, %(modified)s, %(processing)s, %(receives)s,"
            " now())"
            " ON CONFLICT (object_key, content_checksum) DO UPDATE"
            " SET attempts = greatest(l.attempts + 1, %(receives)s), status = %(processing)s, started_at = now(),"
            " finished_at = NULL"
            " WHERE l.status <> ALL(%(finished)s)"
            " RETURNING attempts",
            {"finished": FINISHED, "processing": str(LedgerStatus.PROCESSING), "key": obj.ref.key, "sum": obj.checksum, "version": obj.version_id, "entity": entity,
             "modified": obj.last_modified, "receives": max(1, receive_count)},
        ).fetchone()
        if row is None:
            mark_replay(conn, obj)
            return False
    return True


def mark_replay(conn: psycopg.Connection, obj: SourceObject) -> None:
    conn.execute(
        "UPDATE etl.ingest_ledger SET replays_skipped = replays_skipped + 1"
        " WHERE object_key = %s AND content_checksum = %s",
        (obj.ref.key, obj.checksum),
    )


def lock(conn: psycopg.Connection, key: str) -> None:
    """Serialize work on one key until the transaction ends (covers every version of it)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (key,))


def finished(conn: psycopg.Connection, obj: SourceObject) -> bool:
    row = conn.execute(
        "SELECT status FROM etl.ingest_ledger WHERE object_key = %s AND content_checksum = %s FOR UPDATE",
        (obj.ref.key, obj.checksum),
    ).fetchone()
    return row is not None and row[0] in FINISHED


def finish(conn: psycopg.Connection, obj: SourceObject, status: LedgerStatus, counts: Counts,
           error: str | None = None, detail: str | None = None,
           unknown_columns: list[str] | None = None) -> None:
    """Write the final row of this object version (in the transaction that loaded its rows)."""
    conn.execute(
        "UPDATE etl.ingest_ledger SET status = %s, rows_in = %s, rows_loaded = %s, rows_parked = %s,"
        " rows_rejected = %s, finished_at = now(), error = %s, error_detail = %s, unknown_columns = %s"
        " WHERE object_key = %s AND content_checksum = %s",
        (str(status), counts.rows_in, counts.rows_loaded, counts.rows_parked,
         counts.rows_rejected, error, detail, unknown_columns or [], obj.ref.key, obj.checksum),
    )


def fail(conn: psycopg.Connection, obj: SourceObject, error: str) -> None:
    """After the load rolled back: mark the attempt failed with the exception class."""
    with conn.transaction():
        conn.execute(
            "UPDATE etl.ingest_ledger SET status = %s, error = %s, finished_at = %s"
            " WHERE object_key = %s AND content_checksum = %s AND status = %s",
            (str(LedgerStatus.FAILED), error, datetime.now().astimezone(), obj.ref.key, obj.checksum,
             str(LedgerStatus.PROCESSING)),
        )

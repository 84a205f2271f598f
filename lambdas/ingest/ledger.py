"""`etl.ingest_ledger`: one row per object identity (key + content checksum).

`claim` counts the attempt in its own short transaction, so a failed attempt still shows.
`lock` then serializes every worker holding the same key (`pg_advisory_xact_lock`), and
`finished` re-checks under the lock: two workers receiving the same object at once load it
once; the second sees it finished and only increments `replays_skipped`. The final row is
written by `finish` in the transaction that loads the rows, so they commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from lambdas.ingest.source import SourceObject

FINISHED = ("loaded", "partial", "rejected")


@dataclass
class Counts:
    rows_in: int = 0
    rows_loaded: int = 0
    rows_parked: int = 0
    rows_rejected: int = 0

    @property
    def status(self) -> str:
        if self.rows_rejected == 0:
            return "loaded"
        return "rejected" if self.rows_rejected == self.rows_in else "partial"


def claim(conn: psycopg.Connection, obj: SourceObject, entity: str | None) -> bool:
    """Record an attempt; False when this identity already finished (a replay: counted, skipped)."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO etl.ingest_ledger AS l (object_key, content_checksum, version_id, entity,"
            " src_modified, status, attempts, started_at)"
            " VALUES (%s, %s, %s, %s, %s, 'processing', 1, now())"
            " ON CONFLICT (object_key, content_checksum) DO UPDATE"
            " SET attempts = l.attempts + 1, status = 'processing', started_at = now()"
            " WHERE l.status NOT IN ('loaded', 'partial', 'rejected')"
            " RETURNING attempts",
            (obj.ref.key, obj.checksum, obj.version_id, entity, obj.last_modified),
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


def finish(conn: psycopg.Connection, obj: SourceObject, counts: Counts, error: str | None = None,
           status: str | None = None) -> None:
    conn.execute(
        "UPDATE etl.ingest_ledger SET status = %s, rows_in = %s, rows_loaded = %s, rows_parked = %s,"
        " rows_rejected = %s, finished_at = now(), error = %s"
        " WHERE object_key = %s AND content_checksum = %s",
        (status or counts.status, counts.rows_in, counts.rows_loaded, counts.rows_parked,
         counts.rows_rejected, error, obj.ref.key, obj.checksum),
    )


def fail(conn: psycopg.Connection, obj: SourceObject, error: str) -> None:
    """Best effort, after the load rolled back: mark the attempt failed with the exception class."""
    with conn.transaction():
        conn.execute(
            "UPDATE etl.ingest_ledger SET status = 'failed', error = %s, finished_at = %s"
            " WHERE object_key = %s AND content_checksum = %s AND status = 'processing'",
            (error, datetime.now().astimezone(), obj.ref.key, obj.checksum),
        )

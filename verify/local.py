"""`lake verify --workdir W`: the same checks on local mode's engines.

The local stack (moto + PostgreSQL) starts on the workdir, the real ingest handler drains the
queue (local mode's stand-in for the Lambda polling SQS), the warehouse SQL runs on the local
analytics engine (DuckDB with the RDS tables under the federated schema names Redshift uses), and
the lake rows are read with DuckDB from the processed bucket's Parquet. The verification data stays
in the workdir, like any `lake run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from local.stack.local_stack import LocalStack
from local.workdir import Workdir


class LocalTarget:
    def __init__(self, workdir: Workdir) -> None:
        self.stack = LocalStack(workdir).start()
        self.raw_bucket = self.stack.names.buckets["raw"]
        self.description = f"the local stack in {workdir.root}"

    def upload(self, path: Path, key: str) -> None:
        with path.open("rb") as fh:
            self.stack.s3.put_object(Bucket=self.raw_bucket, Key=key, Body=fh)

    def queue_depths(self) -> tuple[int, int]:
        depths = self.stack.queue_depths()
        return depths["queue"], depths["dlq"]

    def drain(self) -> None:
        from local.local_run import default_workers, process_queue

        process_queue(self.stack, default_workers(self.stack))

    def warehouse_query(self, sql: str) -> list[tuple[int, ...]]:
        from local.analytics.duckdb_engine import open_engine, run_query

        con = open_engine(self.stack.db.url, None, views=False)
        try:
            return [tuple(int(v) for v in row.values()) for row in run_query(con, sql, "redshift").to_pylist()]
        finally:
            con.close()

    def lake_rows(self, table: str, file_prefixes: Sequence[str]) -> int:
        import duckdb

        processed = self.stack.names.buckets["processed"]
        self.stack.sync_bucket("processed", prefix=f"{table}/")
        files = [p for p in (self.stack.workdir.bucket_dir(processed) / table).rglob("*.parquet")
                 if p.name.startswith(tuple(file_prefixes))]
        if not files:
            return 0
        con = duckdb.connect()
        try:
            row = con.execute("SELECT count(*) FROM read_parquet(?)", [[str(p) for p in files]]).fetchone()
            return int(row[0]) if row else 0
        finally:
            con.close()

    def close(self) -> None:
        self.stack.stop()

"""What the table's own guards cost a bulk load into surgical_procedures (ADR 0005).

Validates and pseudonymizes --rows procedures once (the ingest's own reader, validator and
HMAC; not timed), then times what the issue's "COPY to staging + upsert" covers: the binary
COPY of those batches into the staging table plus `rds_loader.load_staged` (park + MERGE +
unpark), on the migrated table and on the same table with one kind of guard dropped: the
foreign key, the CHECK constraints, the secondary indexes, then all three. Each run is one
transaction that drops what it measures without and rolls back (then the table is truncated),
so the database is left as migrated. Medians of --repeat runs.
PostgreSQL: $DATABASE_URL, else a throwaway server.

Usage:
    python -m bench.rds_guards                       # 200 k rows, 3 runs per variant
    python -m bench.rds_guards --rows 1000000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa

from bench.ingest import HMAC_KEY, reset_with_robots, write_procedures
from lake.contract import ENTITIES
from lambdas.ingest import rds_loader
from lambdas.ingest.pipeline import ValidRows
from lambdas.ingest.quarantine import RejectSink
from lambdas.ingest.routing import Format, Route
from local.stack.postgres_server import postgres_server

TABLE = "surgical_procedures"
# Each guard kind, as the statement that drops all of it from the table (in a DO block: the
# names come from the catalog, so the benchmark follows the migrations).
_DROP = """
DO $$ DECLARE r record; BEGIN
  FOR r IN {query} LOOP EXECUTE r.ddl; END LOOP;
END $$"""
DROP_FOREIGN_KEYS = _DROP.format(query=f"""
  SELECT format('ALTER TABLE {TABLE} DROP CONSTRAINT %I', conname) AS ddl FROM pg_constraint
  WHERE conrelid = '{TABLE}'::regclass AND contype = 'f'""")
DROP_CHECKS = _DROP.format(query=f"""
  SELECT format('ALTER TABLE {TABLE} DROP CONSTRAINT %I', conname) AS ddl FROM pg_constraint
  WHERE conrelid = '{TABLE}'::regclass AND contype = 'c'""")
DROP_SECONDARY_INDEXES = _DROP.format(query=f"""
  SELECT format('DROP INDEX %I', indexrelid::regclass::text) AS ddl FROM pg_index
  WHERE indrelid = '{TABLE}'::regclass AND NOT indisprimary""")
VARIANTS = {
    "as migrated": [],
    "without the foreign key": [DROP_FOREIGN_KEYS],
    "without the CHECK constraints": [DROP_CHECKS],
    "without the secondary indexes": [DROP_SECONDARY_INDEXES],
    "without all three": [DROP_FOREIGN_KEYS, DROP_CHECKS, DROP_SECONDARY_INDEXES],
}


def validated_batches(work: Path, rows: int) -> list[pa.Table]:
    """`rows` procedures as the ingest hands them to the loader: validated, pseudonymized."""
    path = work / "procedures.csv"
    write_procedures(path, rows)
    entity = ENTITIES[TABLE]
    valid = ValidRows(Route(entity, Format.CSV, False), HMAC_KEY)
    batches = list(valid.batches(iter([path.read_bytes()]), RejectSink(path.name, entity)))
    if valid.rows_rejected:
        raise RuntimeError(f"{valid.rows_rejected} generated rows were rejected")
    return batches


def time_load(url: str, batches: list[pa.Table], ddl: list[str]) -> float:
    """Seconds for COPY to staging + `load_staged` of `batches`, on the table minus `ddl`."""
    rows = sum(b.num_rows for b in batches)
    entity = ENTITIES[TABLE]
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction(force_rollback=True):
        for statement in ddl:
            conn.execute(statement)
        start = time.perf_counter()
        with rds_loader.staging(conn, entity, "bench/procedures.csv", datetime.now(UTC)) as stager:
            for batch in batches:
                stager.write(batch)
        result = rds_loader.load_staged(conn, entity)
        seconds = time.perf_counter() - start
        if result.loaded != rows:
            raise RuntimeError(f"loaded {result.loaded} of {rows} rows")
    with psycopg.connect(url, autocommit=True) as conn:
        # The rolled-back rows stay behind as dead tuples that the next run's index inserts
        # would wade through: start each run from fresh files.
        conn.execute(f"TRUNCATE {TABLE} CASCADE")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rds_guards", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="procedures to load (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the median is reported")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-rds-guards-") as tmp, postgres_server() as url:
        reset_with_robots(url)
        batches = validated_batches(Path(tmp), args.rows)
        print(f"COPY to staging + upsert of {args.rows:,} new procedures (park + MERGE + unpark)", flush=True)
        baseline = None
        for label, ddl in VARIANTS.items():
            seconds = statistics.median(time_load(url, batches, ddl) for _ in range(args.repeat))
            baseline = seconds if baseline is None else baseline
            print(f"  {label:<32} {seconds:6.2f} s {int(args.rows / seconds):>10,} rows/s"
                  f"  ({seconds - baseline:+.2f} s vs as migrated, median of {args.repeat})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

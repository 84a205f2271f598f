"""What the table's own guards cost a bulk upsert into surgical_procedures (ADR 0005).

Stages --rows procedures in SQL (already pseudonymized, 50 robots present), then times
`rds_loader.load_staged` (park + MERGE + unpark) on the migrated table, and on the same table
with one kind of guard dropped: the foreign key, the CHECK constraints, the secondary indexes,
then all three. Each run is one transaction that drops what it measures without and rolls
back (then the table is truncated), so the database is left as migrated. Medians of --repeat
runs.
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
from pathlib import Path

import psycopg

from bench.ingest import postgres_server, reset_with_robots
from lake.contract import ENTITIES
from lambdas.ingest import rds_loader

TABLE = "surgical_procedures"
STAGE_ROWS = f"""
INSERT INTO {rds_loader.STAGE}
SELECT 'PROC-' || lpad(i::text, 6, '0'), 'ROBOT-' || lpad(mod(i, 50)::text, 4, '0'),
       'FAC-' || lpad(mod(i, 10)::text, 3, '0'), 'SURG-' || lpad(mod(i, 300)::text, 4, '0'),
       encode(sha256(i::text::bytea), 'hex'), 1940 + mod(i, 60), false, lpad((100 + mod(i, 800))::text, 3, '0'),
       'lap', 'urology', (ARRAY['low', 'medium', 'high'])[1 + mod(i, 3)], false,
       timestamptz '2025-03-03 08:00+00' + i * interval '1 minute',
       timestamptz '2025-03-03 08:10+00' + i * interval '1 minute',
       timestamptz '2025-03-03 10:00+00' + i * interval '1 minute', 'completed', 'bench', now(), now()
FROM generate_series(0, %s - 1) AS i
"""
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


def time_upsert(url: str, rows: int, ddl: list[str]) -> float:
    """Seconds `load_staged` takes for `rows` staged procedures, on the table minus `ddl`."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction(force_rollback=True):
        for statement in ddl:
            conn.execute(statement)
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        conn.execute(f"CREATE TEMP TABLE {rds_loader.STAGE} (LIKE {TABLE} INCLUDING DEFAULTS) ON COMMIT DROP")
        conn.execute(STAGE_ROWS, (rows,))
        conn.execute(f"ANALYZE {rds_loader.STAGE}")
        start = time.perf_counter()
        result = rds_loader.load_staged(conn, ENTITIES[TABLE])
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
    parser.add_argument("--rows", type=int, default=200_000, help="procedures to upsert (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the median is reported")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-rds-guards-") as tmp:
        url, server = postgres_server(Path(tmp))
        try:
            reset_with_robots(url)
            print(f"upsert of {args.rows:,} new procedures (load_staged: park + MERGE + unpark)", flush=True)
            baseline = None
            for label, ddl in VARIANTS.items():
                seconds = statistics.median(time_upsert(url, args.rows, ddl) for _ in range(args.repeat))
                baseline = seconds if baseline is None else baseline
                print(f"  {label:<32} {seconds:6.2f} s {int(args.rows / seconds):>10,} rows/s"
                      f"  ({seconds - baseline:+.2f} s vs as migrated, median of {args.repeat})", flush=True)
        finally:
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

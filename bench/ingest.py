"""Benchmark the ingest's two hot paths beside the naive ones, in the same run.

1. Telemetry NDJSON -> validated Parquet (the ingest's reader + validator + partitioned zstd
   writer) vs `pandas.read_json(lines=True)` + `to_parquet`.
2. Transactional load into PostgreSQL (reader + validator + pseudonymizer + COPY to staging +
   upsert in one transaction) vs a row-by-row `INSERT ... ON CONFLICT`.

Each measurement runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own; the figure
reported is the median of --repeat runs. rows/cpu-s (user + system CPU of the worker) is shown
beside wall-clock rows/s because a shared machine's load inflates wall time. PostgreSQL:
$DATABASE_URL, else a throwaway server (its own CPU is not in rows/cpu-s).

Usage:
    python -m bench.ingest                      # default sizes (a few minutes on 2 cores)
    python -m bench.ingest --telemetry-rows 200000 1000000 --rds-rows 100000 --repeat 3
    python -m bench.ingest --large-gb 1         # also one run on a ~1 GB telemetry object
    python -m bench.ingest --shape array --skip-rds   # the same telemetry as one JSON array on one line
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np

HMAC_KEY = b"bench-hmac-key"


# --- data -----------------------------------------------------------------------------------------

def _random_uuids(rng: np.random.Generator, n: int) -> list[str]:
    """Random version-4-shaped UUID strings, as producers send them (unsorted: the duplicate-key
    check costs more on these than on sequential ids)."""
    hexes = [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)]
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]


def write_telemetry(path: Path, rows: int, seed: int = 1) -> int:
    """NDJSON telemetry like the generator's (50 robots, one day, offsets in timestamps); returns bytes."""
    import polars as pl

    rng = np.random.default_rng(seed)
    chunk = 500_000
    with path.open("wb") as out:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            idx = np.arange(start, start + n)
            ms = 1_740_988_800_000 + idx * 37 % 86_000_000
            frame = pl.DataFrame({
                "telemetry_id": _random_uuids(rng, n),
                "procedure_id": [f"PROC-{p:06d}" for p in (idx // 100) % 5000],
                "robot_id": [f"ROBOT-{r:04d}" for r in idx % 50],
                "timestamp": pl.Series(ms, dtype=pl.Datetime("ms")).dt.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00"),
                "arm_id": (idx % 4 + 1).astype(np.int32),
                "joint_angle_deg": rng.uniform(-170, 170, n).round(3),
                "force_newtons": rng.uniform(0, 40, n).round(3),
                "torque_nm": rng.uniform(-20, 20, n).round(3),
                "motor_temp_c": rng.uniform(30, 60, n).round(2),
                "latency_ms": rng.uniform(0.5, 5, n).round(3),
                "error_code": [None if i % 50 else "E101" for i in idx],
            })
            frame.write_ndjson(out)
        _settle(out)
    return path.stat().st_size


def write_procedures(path: Path, rows: int) -> None:
    from lake.contract import ENTITIES

    cols = ENTITIES["surgical_procedures"].column_names
    with path.open("w") as out:
        out.write(",".join(cols) + "\n")
        for i in range(rows):
            out.write(f"PROC-{i:06d},ROBOT-{i % 50:04d},FAC-{i % 10:03d},SURG-{i % 300:04d},MRN{i % 90000:08d},"
                      f"Pat Name{i},{1940 + i % 60}-0{1 + i % 9}-1{i % 9},{10000 + i % 80000},lap,urology,"
                      f"{('low', 'medium', 'high')[i % 3]},false,2025-03-03T08:00:00+01:00,"
                      f"2025-03-03T08:10:00Z,2025-03-03T10:00:00Z,completed\n")
        _settle(out)


SHAPES = ("ndjson", "array", "concatenated")


def reshape(path: Path, shape: str) -> int:
    """Rewrite NDJSON in place as one JSON array on one line, or as records concatenated without
    separators (Kinesis Data Firehose's default), streaming; returns the new size in bytes."""
    if shape == "ndjson":
        return path.stat().st_size
    tmp = path.with_suffix(".reshaped")
    with path.open("rb") as src, tmp.open("wb") as out:
        out.write(b"[" if shape == "array" else b"")
        first = True
        for line in src:
            record = line.rstrip(b"\r\n")
            if record:
                out.write(record if first or shape != "array" else b"," + record)
                first = False
        out.write(b"]" if shape == "array" else b"")
        _settle(out)
    tmp.replace(path)
    return path.stat().st_size


def _settle(out: IO) -> None:
    """Flush the input file to disk before it is measured, so the kernel's write-back of a file
    just written does not compete with the first measurement."""
    out.flush()
    os.fsync(out.fileno())


# --- workers (each runs in its own subprocess) -------------------------------------------------

def _file_chunks(path: Path, size: int = 8 << 20):
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


def worker_telemetry_ingest(path: Path, out_dir: str) -> int:
    from lake.contract import ENTITIES
    from lambdas.ingest.lake_writer import PartitionedWriter
    from lambdas.ingest.pipeline import ValidRows
    from lambdas.ingest.quarantine import RejectSink
    from lambdas.ingest.routing import Format, Route

    entity = ENTITIES["procedure_telemetry"]
    valid, sink = ValidRows(Route(entity, Format.NDJSON, False), HMAC_KEY), RejectSink(path.name, entity)
    writer = PartitionedWriter(entity, f"procedure_telemetry/{path.name}", "etag:bench", workdir=out_dir)
    for table in valid.batches(_file_chunks(path), sink):
        writer.write(table)
    writer.close()
    assert valid.rows_rejected == 0, valid.reasons
    rows = sum(p.rows for p in writer.partitions.values())
    writer.cleanup()
    return rows


def worker_telemetry_pandas(path: Path, out_dir: str) -> int:
    import pandas as pd

    frame = pd.read_json(path, lines=True)
    frame.to_parquet(Path(out_dir) / "naive.parquet", compression="zstd")
    return len(frame)


def reset_with_robots(url: str) -> None:
    import psycopg

    from lambdas.migrate.migrations import apply_migrations

    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE surgical_robots, surgical_procedures, procedure_outcomes, robot_maintenance_logs,"
                     " etl.parked_rows CASCADE")
        conn.execute("INSERT INTO surgical_robots SELECT 'ROBOT-' || lpad(i::text, 4, '0'), 'SN-' || lpad(i::text,"
                     " 6, '0'), 'Xi', 'Intuitive', 'FAC-001', 'H', '2020-01-01', '1.0.0', 'active', 'seed',"
                     " now() FROM generate_series(0, 49) i")


def worker_rds_ingest(path: Path, url: str) -> int:
    import psycopg

    from lake.contract import ENTITIES
    from lambdas.ingest.pipeline import ValidRows
    from lambdas.ingest.quarantine import RejectSink
    from lambdas.ingest.rds_loader import RdsLoader
    from lambdas.ingest.routing import Format, Route

    entity = ENTITIES["surgical_procedures"]
    valid, sink = ValidRows(Route(entity, Format.CSV, False), HMAC_KEY), RejectSink(path.name, entity)
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        loader = RdsLoader(conn, entity, f"surgical_procedures/{path.name}", datetime.now(UTC))
        result = loader.load(valid.batches(_file_chunks(path), sink))
    assert valid.rows_rejected == 0 and result.loaded == valid.rows_in, valid.reasons
    return result.loaded


def worker_rds_naive(path: Path, url: str) -> int:
    """Row by row: csv.DictReader, hmac per row, one INSERT ... ON CONFLICT per row, one transaction."""
    import csv
    import hashlib
    import hmac

    import psycopg

    from lake.contract import AGE_90_PLUS, ENTITIES, GENERALIZED_ZIP3, RESTRICTED_ZIP3

    entity = ENTITIES["surgical_procedures"]
    cols = [*entity.stored_column_names, "src_key", "src_modified"]
    sql = (f"INSERT INTO surgical_procedures ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
           f" ON CONFLICT (procedure_id) DO UPDATE SET status = excluded.status")
    n = 0
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction(), path.open() as f:
        for row in csv.DictReader(f):
            birth, start = row["patient_birth_date"], row["scheduled_start"]
            age = int(start[:4]) - int(birth[:4]) - (start[5:10] < birth[5:10])
            zip3 = row["patient_zip"][:3] if row["patient_zip"] else None
            values = {**row, "patient_key": hmac.new(HMAC_KEY, row["patient_id"].encode(), hashlib.sha256)
                      .hexdigest(), "patient_age_at_procedure": age if age < AGE_90_PLUS else None,
                      "patient_age_90_plus": age >= AGE_90_PLUS,
                      "patient_zip3": GENERALIZED_ZIP3 if zip3 in RESTRICTED_ZIP3 else zip3,
                      "src_key": "naive", "src_modified": datetime.now(UTC)}
            conn.execute(sql, [values[c] for c in cols])
            n += 1
    return n


WORKERS = {f.__name__.removeprefix("worker_"): f for f in (
    worker_telemetry_ingest, worker_telemetry_pandas, worker_rds_ingest, worker_rds_naive)}


def _run_worker(name: str, path: Path, arg: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter; returns rows, seconds and peak RSS (MB)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "bench.ingest", "--worker", name, str(path), arg],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _worker_main(name: str, path: str, arg: str) -> None:
    import pandas  # noqa: F401 - imports happen before the clock starts, for every path alike
    import psycopg  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import lambdas.ingest.lake_writer  # noqa: F401
    import lambdas.ingest.pipeline  # noqa: F401

    if name.startswith("rds"):
        reset_with_robots(arg)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    rows = WORKERS[name](Path(path), arg)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(json.dumps({"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": after.ru_maxrss / 1024}))


def _measure(label: str, name: str, path: Path, arg: str, repeat: int, size_mb: float) -> dict[str, object]:
    runs = [_run_worker(name, path, arg) for _ in range(repeat)]
    seconds = statistics.median(r["seconds"] for r in runs)
    rows = int(runs[0]["rows"])
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    result = {"path": label, "rows": rows, "input_mb": round(size_mb, 1), "seconds": round(seconds, 2),
              "rows_per_s": int(rows / seconds), "rows_per_cpu_s": int(rows / max(cpu, 1e-9)),
              "peak_rss_mb": int(statistics.median(r["peak_mb"] for r in runs))}
    print(f"  {label:<50} {rows:>10,} rows {result['rows_per_s']:>10,} rows/s {result['rows_per_cpu_s']:>10,} "
          f"rows/cpu-s  peak RSS {result['peak_rss_mb']:>6,} MB  ({size_mb:,.0f} MB in, median of {repeat})",
          flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--telemetry-rows", type=int, nargs="+", default=[500_000, 2_000_000],
                        help="telemetry object sizes in rows (default: 500000 2000000)")
    parser.add_argument("--naive-telemetry-rows", type=int, default=500_000,
                        help="rows for the pandas baseline (it needs ~3 GB per million rows; 0 skips it)")
    parser.add_argument("--rds-rows", type=int, default=200_000, help="procedures for the PostgreSQL load")
    parser.add_argument("--naive-rds-rows", type=int, default=20_000, help="rows for the row-by-row INSERT")
    parser.add_argument("--large-gb", type=float, default=0.0, help="also one run on a telemetry object this large")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--shape", choices=SHAPES, default="ndjson",
                        help="how the telemetry objects hold their records (default ndjson)")
    parser.add_argument("--skip-rds", action="store_true", help="telemetry only")
    parser.add_argument("--skip-telemetry", action="store_true", help="PostgreSQL only")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker_main(*args.worker)
        return 0
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        if not args.skip_telemetry:
            print("telemetry NDJSON -> validated Parquet (zstd, date/robot partitions)", flush=True)
        for rows in [] if args.skip_telemetry else sorted(set(args.telemetry_rows) | ({args.naive_telemetry_rows} - {0})):
            path = work / f"telemetry-{rows}.ndjson"
            write_telemetry(path, rows)
            size_mb = reshape(path, args.shape) / 1e6
            if rows in args.telemetry_rows:
                label = "ingest: Arrow reader + pc validate + pq writer" + (
                    "" if args.shape == "ndjson" else f" ({args.shape})")
                results.append(_measure(label, "telemetry_ingest", path, str(work), args.repeat, size_mb))
            if rows == args.naive_telemetry_rows and args.shape == "ndjson":  # pandas reads NDJSON only
                results.append(_measure("naive: pandas.read_json(lines=True) + to_parquet", "telemetry_pandas",
                                        path, str(work), args.repeat, size_mb))
            path.unlink()
        if args.large_gb:
            rows = int(args.large_gb * 1e9 / 285)
            path = work / "telemetry-large.ndjson"
            write_telemetry(path, rows)
            size_mb = reshape(path, args.shape) / 1e6
            results.append(_measure(f"ingest: large object ({args.shape})", "telemetry_ingest", path, str(work), 1,
                                    size_mb))
            path.unlink()
        if not args.skip_rds:
            print("transactional load into PostgreSQL (surgical_procedures, with PHI)", flush=True)
            from local.stack.postgres_server import postgres_server

            with postgres_server() as url:
                for rows, label, name in (
                    (args.rds_rows, "ingest: validate + HMAC + COPY staging + upsert", "rds_ingest"),
                    (args.naive_rds_rows, "naive: row-by-row INSERT ... ON CONFLICT", "rds_naive"),
                ):
                    path = work / f"procedures-{rows}.csv"
                    write_procedures(path, rows)
                    results.append(_measure(label, name, path, url, args.repeat, path.stat().st_size / 1e6))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

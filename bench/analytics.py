"""Benchmark the analytics: every Redshift view and Athena query on the local engine, and the
Glue rollup job (full run, no-op rerun, one new day), at default scale and at 10x.

Data is synthesized here with numpy at the generator's scales (default: 50 robots, 5,000
procedures, 200 maintenance logs, 100 telemetry samples per performed procedure over 181
days; 10x: everything times ten), laid out exactly as the lake (hive date/robot_id Parquet,
one file per partition, plus the procedure windows the job reads for its gap rule) and
handed to the engine as Arrow tables (the PostgreSQL copy is
measured separately with --postgres). Timings are medians of --repeats runs, wall clock.

Run: python -m bench.analytics [--scales 1,10] [--repeats 3] [--rollup-repeats N] [--no-rollup] [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from lake.contract import ENTITIES, LINEAGE_COLUMNS, arrow_schema, lake_data_columns
from local.analytics.duckdb_engine import athena_files, open_engine, redshift_views, run_query

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
DAYS = 181
DAY_MS = 86_400_000
TYPES = {  # procedure type -> category
    "prostatectomy": "urology", "nephrectomy": "urology", "cystectomy": "urology",
    "hysterectomy": "gynecology", "myomectomy": "gynecology", "sacrocolpopexy": "gynecology",
    "cholecystectomy": "general", "hernia_repair": "general", "colectomy": "colorectal",
    "low_anterior_resection": "colorectal", "lobectomy": "thoracic", "thymectomy": "thoracic",
    "mitral_valve_repair": "cardiac", "gastric_bypass": "bariatric", "sleeve_gastrectomy": "bariatric",
}


def _ts(ms: np.ndarray) -> pa.Array:
    return pa.array(ms.astype("int64"), type=pa.timestamp("ms", tz="UTC"))


def _table(entity: str, columns: dict[str, Any]) -> pa.Table:
    """Arrow table with the stored + lineage columns of `entity`, cast to the contract types."""
    schema = arrow_schema((*ENTITIES[entity].stored_columns(), *LINEAGE_COLUMNS))
    n = len(next(iter(columns.values())))
    now = _ts(np.full(n, int(START.timestamp() * 1000)))
    lineage = {"src_key": pa.array([f"{entity}/bench.csv"] * n), "src_modified": now, "loaded_at": now}
    arrays = [pa.array(columns[f.name] if f.name in columns else lineage[f.name]).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def synthesize(scale: int, seed: int = 7) -> tuple[dict[str, pa.Table], pa.Table]:
    """RDS tables (as ingest stores them) and the telemetry samples, at `scale` x default."""
    rng = np.random.default_rng(seed)
    start_ms = int(START.timestamp() * 1000)
    n_rob, n_proc, n_maint = 50 * scale, 5_000 * scale, 200 * scale
    robot_ids = np.array([f"ROBOT-{i:04d}" for i in range(1, n_rob + 1)])
    facility = np.array([f"FAC-{i % 10 + 1:03d}" for i in range(n_rob)])
    robots = _table("surgical_robots", {
        "robot_id": robot_ids, "serial_number": [f"SN-{i:08d}" for i in range(n_rob)],
        "model": ["Vantage X"] * n_rob, "manufacturer": ["Acme Surgical"] * n_rob, "facility_id": facility,
        "facility_name": [f"Hospital {f}" for f in facility], "install_date": [dt.date(2022, 1, 1)] * n_rob,
        "firmware_version": ["4.2.1"] * n_rob,
        "status": rng.choice(["active", "maintenance", "retired"], n_rob, p=[0.9, 0.05, 0.05]),
    })
    robot_of = rng.integers(0, n_rob, n_proc)
    types = np.array(list(TYPES))
    ptype = rng.choice(types, n_proc)
    sched = start_ms + rng.integers(0, DAYS, n_proc) * DAY_MS + rng.integers(7 * 3600_000, 17 * 3600_000, n_proc)
    status = rng.choice(["completed", "cancelled", "converted"], n_proc, p=[0.95, 0.03, 0.02])
    performed = status != "cancelled"
    actual_start = sched + rng.integers(0, 1_800_000, n_proc)
    duration = rng.integers(3600_000, 5 * 3600_000, n_proc)
    procedures = _table("surgical_procedures", {
        "procedure_id": [f"PROC-{i:06d}" for i in range(1, n_proc + 1)], "robot_id": robot_ids[robot_of],
        "facility_id": facility[robot_of], "surgeon_id": [f"SURG-{i:04d}" for i in rng.integers(1, 100 * scale, n_proc)],
        "patient_key": [f"{k:064x}" for k in rng.integers(0, int(n_proc * 0.8), n_proc)],
        "patient_age_at_procedure": rng.integers(18, 90, n_proc), "patient_age_90_plus": np.zeros(n_proc, bool),
        "patient_zip3": ["100"] * n_proc, "procedure_type": ptype,
        "procedure_category": [TYPES[t] for t in ptype],
        "complexity": rng.choice(["low", "medium", "high"], n_proc), "is_emergency": rng.random(n_proc) < 0.05,
        "scheduled_start": _ts(sched),
        "actual_start": pa.array(actual_start, mask=~performed).cast(pa.timestamp("ms", tz="UTC")),
        "actual_end": pa.array(actual_start + duration, mask=~performed).cast(pa.timestamp("ms", tz="UTC")),
        "status": status,
    })
    done = np.flatnonzero(performed)
    severity = rng.choice(["none", "minor", "major", "critical"], len(done), p=[0.85, 0.1, 0.04, 0.01])
    outcomes = _table("procedure_outcomes", {
        "outcome_id": [f"OUT-{i + 1:06d}" for i in done], "procedure_id": [f"PROC-{i + 1:06d}" for i in done],
        "success": rng.random(len(done)) < 0.92, "complication_occurred": severity != "none",
        "complication_severity": severity, "blood_loss_ml": rng.gamma(2, 60, len(done)),
        "length_of_stay_days": rng.gamma(2, 1.2, len(done)), "readmitted_30d": rng.random(len(done)) < 0.05,
        "conversion_to_open": status[done] == "converted", "recorded_at": _ts(actual_start[done] + 86_400_000),
    })
    m_start = start_ms + rng.integers(0, DAYS * DAY_MS, n_maint)
    completed = rng.random(n_maint) < 0.95
    maintenance = _table("robot_maintenance_logs", {
        "maintenance_id": [f"MAINT-{i:06d}" for i in range(1, n_maint + 1)],
        "robot_id": robot_ids[rng.integers(0, n_rob, n_maint)],
        "maintenance_type": rng.choice(["scheduled", "unscheduled", "emergency", "calibration"], n_maint),
        "started_at": _ts(m_start),
        "completed_at": pa.array(m_start + rng.integers(3600_000, 48 * 3600_000, n_maint), mask=~completed)
        .cast(pa.timestamp("ms", tz="UTC")),
        "technician_id": [f"TECH-{i:04d}" for i in rng.integers(1, 50, n_maint)],
        "downtime_hours": rng.gamma(2, 4, n_maint), "parts_replaced": [None] * n_maint,
        "cost_usd": rng.gamma(2, 800, n_maint), "failure_mode": [None] * n_maint,
    })
    tables = {"surgical_robots": robots, "surgical_procedures": procedures, "procedure_outcomes": outcomes,
              "robot_maintenance_logs": maintenance, "etl.ingest_ledger": _ledger(rng, scale)}
    return tables, _telemetry(rng, robot_ids[robot_of][done], done, actual_start[done], duration[done])


def _ledger(rng: np.random.Generator, scale: int) -> pa.Table:
    n = 5 * DAYS * scale
    rows_in = rng.integers(50, 500, n)
    rejected = rng.integers(0, 5, n)
    finished = _ts(int(START.timestamp() * 1000) + rng.integers(0, DAYS * DAY_MS, n))
    return pa.table({
        "object_key": [f"e/{i}.csv" for i in range(n)], "content_checksum": ["c" * 32] * n,
        "version_id": pa.nulls(n, pa.string()),
        "entity": rng.choice([e for e in ENTITIES], n), "src_modified": finished,
        "status": np.where(rejected > 0, "partial", "loaded"), "rows_in": rows_in, "rows_loaded": rows_in - rejected,
        "rows_parked": np.zeros(n, "int64"), "rows_rejected": rejected, "attempts": np.ones(n, "int32"),
        "replays_skipped": np.zeros(n, "int32"), "first_seen_at": finished, "started_at": finished,
        "finished_at": finished, "error": pa.nulls(n, pa.string()),
    })


def _telemetry(rng: np.random.Generator, robots: np.ndarray, procs: np.ndarray, starts: np.ndarray,
               durations: np.ndarray, per_procedure: int = 100) -> pa.Table:
    idx = np.repeat(np.arange(len(procs)), per_procedure)
    step = np.tile(np.arange(per_procedure), len(procs))
    ts = starts[idx] + durations[idx] * step // per_procedure
    n = len(idx)
    data_columns = lake_data_columns(ENTITIES["procedure_telemetry"].columns, ("date",))
    proc_ids = pa.array([f"PROC-{i + 1:06d}" for i in procs])
    columns = {
        "telemetry_id": pa.array([f"00000000-0000-4000-8000-{i:012x}" for i in range(n)]),
        "procedure_id": proc_ids.take(pa.array(idx)), "robot_id": pa.array(robots).take(pa.array(idx)),
        "timestamp": _ts(ts), "arm_id": rng.integers(1, 5, n).astype("int32"),
        "joint_angle_deg": rng.uniform(-90, 90, n), "force_newtons": rng.gamma(4, 3, n),
        "torque_nm": rng.normal(0, 8, n), "motor_temp_c": rng.normal(42, 3, n), "latency_ms": rng.gamma(3, 2, n),
        "error_code": pa.array(["E101" if e else None for e in rng.random(n) < 0.01], pa.string()),
    }
    table = pa.Table.from_arrays([pa.array(columns[c.name]) for c in data_columns],
                                 schema=arrow_schema(data_columns))
    return table.append_column("date", pc.strftime(table["timestamp"], "%Y-%m-%d"))


def write_lake(telemetry: pa.Table, root: Path, name: str = "bench") -> int:
    """Write samples as the ingest lays them out; return the number of files."""
    partitioning = ds.partitioning(pa.schema([("date", pa.string()), ("robot_id", pa.string())]), flavor="hive")
    ds.write_dataset(
        telemetry, root / "procedure_telemetry", format="parquet", partitioning=partitioning,
        basename_template=name + "-{i}.parquet", existing_data_behavior="overwrite_or_ignore",
        max_partitions=1_000_000, max_open_files=4096,
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
    )
    return sum(1 for _ in (root / "procedure_telemetry").rglob("*.parquet"))


def write_windows(procedures: pa.Table, root: Path) -> int:
    """The procedure windows the alerts function exports for the job (one file per UTC date)."""
    from lambdas.alerts.windows import FILE_NAME, PREFIX, parquet_bytes

    by_date: dict[str, list[dict[str, Any]]] = {}
    for row in procedures.select(["procedure_id", "robot_id", "actual_start", "actual_end"]).to_pylist():
        start, end = row["actual_start"], row["actual_end"]
        if start is None or end is None or end <= start:
            continue
        day = start.date()
        while day <= (end - dt.timedelta(milliseconds=1)).date():
            by_date.setdefault(day.isoformat(), []).append(row)
            day += dt.timedelta(days=1)
    for day, rows in by_date.items():
        folder = root / PREFIX / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / FILE_NAME).write_bytes(parquet_bytes(sorted(rows, key=lambda r: r["procedure_id"])))
    return len(by_date)


def median_seconds(fn: Callable[[], object], repeats: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeats):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_engine(tables: dict[str, pa.Table], root: Path, repeats: int) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    out["open_engine (copy RDS, views)"] = (0, median_seconds(lambda: open_engine(None, root, rds_tables=tables),
                                                              repeats))
    con = open_engine(None, root, rds_tables=tables)
    statements = [(f"analytics.{f.name}", f"SELECT * FROM analytics.{f.name}") for f in redshift_views()
                  if f.kind == "view"]
    statements += [(f"athena {f.name}", f.duckdb_sql if f.kind == "query" else
                    f"SELECT * FROM surgical_lake.{f.name}") for f in athena_files()]
    for label, sql in statements:
        rows = run_query(con, sql).num_rows
        out[label] = (rows, median_seconds(_runner(con, sql), repeats))
    return out


def _runner(con: Any, sql: str) -> Callable[[], object]:
    return lambda: run_query(con, sql)


def bench_rollup(root: Path, telemetry: pa.Table, repeats: int) -> dict[str, tuple[int, float]]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    from glue_jobs.telemetry_rollup import run_rollup

    spark = (SparkSession.builder.master("local[2]").appName("bench-rollup")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "4g").config("spark.sql.shuffle.partitions", "8").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")

    def reset() -> None:
        for sub in ("telemetry_hourly", "telemetry_anomalies", "_rollup_state"):
            shutil.rmtree(root / sub, ignore_errors=True)

    uri = root.as_uri()
    out = {"rollup: full run": (telemetry.num_rows, median_seconds(lambda: run_rollup(spark, uri), repeats, reset))}
    out["rollup: rerun, nothing changed"] = (0, median_seconds(lambda: run_rollup(spark, uri), repeats))
    last_day = pc.max(telemetry["date"]).as_py()
    day = telemetry.filter(pc.equal(telemetry["date"], last_day))
    shifted = day.set_column(day.schema.get_field_index("timestamp"), "timestamp",
                             pc.add(day["timestamp"], pa.scalar(dt.timedelta(days=1), pa.duration("ms"))))
    shifted = shifted.set_column(shifted.schema.get_field_index("date"), "date",
                                 pc.strftime(shifted["timestamp"], "%Y-%m-%d"))
    new_day = pc.min(shifted["date"]).as_py()

    def add_day() -> None:
        shutil.rmtree(root / "procedure_telemetry" / f"date={new_day}", ignore_errors=True)
        run_rollup(spark, uri)  # back to "nothing changed"
        write_lake(shifted, root, name="newday")

    out["rollup: one new day"] = (shifted.num_rows, median_seconds(lambda: run_rollup(spark, uri), repeats, add_day))
    spark.stop()
    return out


def bench_postgres(tables: dict[str, pa.Table]) -> float:
    """Seconds to copy the RDS tables from a real PostgreSQL into the engine (read_postgres)."""
    import psycopg

    from lambdas.migrate.migrations import apply_migrations
    from local.analytics.duckdb_engine import read_postgres
    from local.stack.postgres_server import EphemeralPostgres

    with tempfile.TemporaryDirectory() as tmp, EphemeralPostgres(Path(tmp)) as pg:
        url = pg.url()
        with psycopg.connect(url) as conn:
            apply_migrations(conn)
            for name, table in tables.items():
                cols = ", ".join(table.column_names)
                with conn.cursor().copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
                    for row in zip(*[c.to_pylist() for c in table.columns], strict=True):
                        copy.write_row(row)
        t0 = time.perf_counter()
        read_postgres(url)
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10", help="comma-separated multiples of the default scale")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (the median is shown)")
    parser.add_argument("--rollup-repeats", type=int, default=None,
                        help="runs per rollup measurement (default: --repeats; the job is slow at 10x)")
    parser.add_argument("--no-rollup", action="store_true", help="skip the Spark rollup job")
    parser.add_argument("--postgres", action="store_true", help="also time the PostgreSQL -> engine copy")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the Parquet (default: temp)")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    results: dict[int, dict[str, tuple[int, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            root = (args.workdir or Path(tmp)) / f"scale{scale}"
            shutil.rmtree(root, ignore_errors=True)
            print(f"[scale {scale}x] synthesizing ...", file=sys.stderr, flush=True)
            tables, telemetry = synthesize(scale)
            files = write_lake(telemetry, root)
            write_windows(tables["surgical_procedures"], root)
            print(f"[scale {scale}x] {telemetry.num_rows:,} samples in {files:,} files; "
                  f"{tables['surgical_procedures'].num_rows:,} procedures", file=sys.stderr, flush=True)
            res: dict[str, tuple[int, float]] = {}
            if not args.no_rollup:
                print(f"[scale {scale}x] rollup job ...", file=sys.stderr, flush=True)
                res.update(bench_rollup(root, telemetry, args.rollup_repeats or args.repeats))
            print(f"[scale {scale}x] views ...", file=sys.stderr, flush=True)
            res.update(bench_engine(tables, root, args.repeats))
            if args.postgres:
                res["postgres -> engine copy (read_postgres)"] = (
                    sum(t.num_rows for t in tables.values()), bench_postgres(tables))
            results[scale] = res
    _print(results, args.repeats)
    return 0


def _print(results: dict[int, dict[str, tuple[int, float]]], repeats: int) -> None:
    scales = list(results)
    labels = list(results[scales[0]])
    width = max(len(label) for label in labels)
    header = f"{'step':{width}} " + " ".join(f"{f'rows {s}x':>12} {f'ms {s}x':>10}" for s in scales)
    print(f"analytics benchmark, median of {repeats}, wall clock (2 shared cores: noisy)")
    print(header)
    print("-" * len(header))
    for label in labels:
        cells = " ".join(f"{results[s][label][0]:>12,} {results[s][label][1] * 1000:>10.0f}" for s in scales)
        print(f"{label:{width}} {cells}")
    print(f"peak RSS (python process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())

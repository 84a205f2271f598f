"""Every Athena view and named query in sql/athena, transpiled and run on DuckDB over Parquet.

Dates are relative to today because the named queries look back from `current_date`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from local.analytics.duckdb_engine import (
    DEFAULT_GLUE_DATABASE,
    athena_files,
    open_engine,
    run_athena_query,
    run_query,
    set_as_of,
)
from tests.sql.lake_fixture import write_lake

UTC = dt.UTC
TODAY = dt.datetime.now(UTC).date()
R1, R2 = "ROBOT-0001", "ROBOT-0002"


def day(offset: int) -> dt.date:
    return TODAY - dt.timedelta(days=offset)


def at(offset: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    d = day(offset)
    return dt.datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=UTC)


def hourly(robot: str, hour: dt.datetime, arm: int, n: int, force: float, force_max: float, temp: float,
           temp_max: float, latency: float, p95: float, errors: int, gap: bool = False, imputed: bool = False) -> dict:
    return {"robot_id": robot, "hour": hour, "date": hour.date().isoformat(), "arm_id": arm, "sample_count": n,
            "force_newtons_avg": force, "force_newtons_max": force_max, "motor_temp_c_avg": temp,
            "motor_temp_c_max": temp_max, "latency_ms_avg": latency, "latency_ms_p95": p95, "error_count": errors,
            "sample_gap": gap, "is_imputed": imputed}


def sample(n: int, robot: str, proc: str, ts: dt.datetime, arm: int, force: float, temp: float, latency: float,
           error: str | None = None) -> dict:
    return {"telemetry_id": f"00000000-0000-4000-8000-{n:012d}", "procedure_id": proc, "robot_id": robot,
            "timestamp": ts, "date": ts.date().isoformat(), "arm_id": arm, "force_newtons": force,
            "motor_temp_c": temp, "latency_ms": latency, "error_code": error}


HOURLY = [
    hourly(R1, at(1, 9), 1, 10, 10, 12, 40, 45, 5, 8, 1),
    hourly(R1, at(1, 9), 2, 30, 20, 25, 44, 50, 7, 9, 0),
    hourly(R2, at(7, 10), 1, 5, 30, 31, 41, 42, 20, 30, 0, gap=True),  # measured, sparse
    hourly(R2, at(8, 10), 1, 5, 30, 31, 41, 42, 99, 99, 0),  # 8 days ago: outside the 7-day query
    hourly(R1, at(1, 9), 3, 500, 90, 90, 90, 90, 90, 90, 9, gap=True, imputed=True),  # filled: never pooled
]
ANOMALIES = [
    {"robot_id": R1, "hour": at(3, 9), "date": day(3).isoformat(), "metric": "motor_temp_c_avg",
     "value": 50.0, "baseline_mean": 41.0, "baseline_stddev": 2.0, "z_score": 4.5},
    {"robot_id": R2, "hour": at(10, 9), "date": day(10).isoformat(), "metric": "latency_ms_avg",
     "value": 1.0, "baseline_mean": 11.0, "baseline_stddev": 2.0, "z_score": -5.0},
    {"robot_id": R1, "hour": at(31, 9), "date": day(31).isoformat(), "metric": "error_count",
     "value": 9.0, "baseline_mean": 0.5, "baseline_stddev": 0.5, "z_score": 17.0},  # too old
]
SAMPLES = [
    sample(1, R1, "PROC-000001", at(1, 10, 0, 0), 1, 10, 40, 5),
    sample(2, R1, "PROC-000001", at(1, 10, 0, 30), 1, 20, 50, 6, "E101"),
    sample(3, R1, "PROC-000001", at(1, 10, 2, 0), 2, 30, 45, 9),
    sample(4, R1, "PROC-000002", at(9, 8), 1, 5, 30, 1),  # 9 days ago: outside the 7-day query
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root: Path = tmp_path_factory.mktemp("lake")
    write_lake(root, "telemetry_hourly", HOURLY)
    write_lake(root, "telemetry_anomalies", ANOMALIES)
    write_lake(root, "procedure_telemetry", SAMPLES)
    write_lake(root, "procedure_telemetry", [SAMPLES[1]], name="resent")  # a duplicate sample
    return open_engine(None, root)


def _rows(table) -> list[dict]:
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in table.to_pylist()]


def test_every_athena_file_is_tested() -> None:
    names = {f.name for f in athena_files()}
    assert names == {name[5:] for name in globals()
                     if name.startswith("test_v_") or name.startswith("test_q_") or name == "test_as_of"}


def test_as_of(tmp_path: Path) -> None:
    # GIVEN the fixture lake WHEN "now" is the deployed definition THEN it is the current time
    root = tmp_path / "lake"
    write_lake(root, "telemetry_hourly", HOURLY)
    con = open_engine(None, root)
    (got,) = run_query(con, f"SELECT as_of FROM {DEFAULT_GLUE_DATABASE}.as_of").to_pylist()
    assert abs(got["as_of"].replace(tzinfo=UTC) - dt.datetime.now(UTC)) < dt.timedelta(minutes=5)
    # WHEN it is pinned 5 days back at noon (as lake demo pins it to the data's last timestamp)
    set_as_of(con, at(5, 12))
    # THEN "the last 7 days" are the 8 dates up to that day: R2's two hours, not R1's later one
    assert [(r["robot_id"], r["hour"]) for r in run_athena_query(con, "q_hourly_rollups_last_7_days").to_pylist()] == [
        (R2, at(8, 10)), (R2, at(7, 10))]


def test_named_queries_prune_on_date_partitions() -> None:
    # GIVEN each named query as written for Athena THEN its WHERE clause constrains "date"
    for f in athena_files():
        if f.kind != "query":
            continue
        where = sqlglot.parse_one(f.path.read_text(), read="athena").find(exp.Where)
        assert where is not None and any(c.name == "date" for c in where.find_all(exp.Column)), f.name


def test_v_robot_hourly(engine) -> None:
    got = _rows(run_query(engine, f"SELECT * FROM {DEFAULT_GLUE_DATABASE}.v_robot_hourly ORDER BY hour"))
    assert [(r["robot_id"], r["hour"], r["arms"], r["samples"]) for r in got] == [
        (R2, at(8, 10), 1, 5), (R2, at(7, 10), 1, 5), (R1, at(1, 9), 2, 40)]
    pooled = got[2]
    # arms of 10 and 30 samples: force (100 + 600) / 40, temperature (400 + 1320) / 40, latency (50 + 210) / 40
    assert (pooled["force_newtons_avg"], pooled["force_newtons_max"]) == (17.5, 25.0)
    assert (pooled["motor_temp_c_avg"], pooled["motor_temp_c_max"]) == (43.0, 50.0)
    assert (pooled["latency_ms_avg"], pooled["latency_ms_p95_max"], pooled["error_count"]) == (6.5, 9.0, 1)
    assert pooled["date"] == day(1).isoformat()
    # the filled arm-3 row (500 made-up samples at 90) is not pooled; R2's sparse hour is counted
    assert [r["gap_arms"] for r in got] == [0, 1, 0]


def test_v_procedure_telemetry_summary(engine) -> None:
    got = _rows(run_query(engine, f"SELECT * FROM {DEFAULT_GLUE_DATABASE}.v_procedure_telemetry_summary"
                                  " ORDER BY procedure_id"))
    assert len(got) == 2
    p1 = got[0]
    # 3 distinct samples (one re-sent), arms 1 and 2, 10:00:00 .. 10:02:00
    assert (p1["procedure_id"], p1["robot_id"], p1["samples"], p1["arms"]) == ("PROC-000001", R1, 3, 2)
    assert (p1["first_sample_at"], p1["last_sample_at"], p1["span_seconds"]) == (
        at(1, 10), at(1, 10, 2), 120)
    assert (p1["force_newtons_avg"], p1["force_newtons_max"]) == (20.0, 30.0)
    assert (p1["motor_temp_c_avg"], p1["motor_temp_c_max"]) == (45.0, 50.0)
    assert (p1["latency_ms_avg"], p1["latency_ms_max"], p1["error_samples"]) == (round(20 / 3, 6), 9.0, 1)
    assert (got[1]["procedure_id"], got[1]["samples"]) == ("PROC-000002", 1)


def test_q_hourly_rollups_last_7_days(engine) -> None:
    got = _rows(run_athena_query(engine, "q_hourly_rollups_last_7_days"))
    # 8 days ago is out; worst p95 first: R2's 30 ms, then R1's pooled 9 ms
    assert [(r["robot_id"], r["hour"], r["latency_ms_p95_max"], r["samples"]) for r in got] == [
        (R2, at(7, 10), 30.0, 5), (R1, at(1, 9), 9.0, 40)]


def test_q_anomalies_last_30_days(engine) -> None:
    got = _rows(run_athena_query(engine, "q_anomalies_last_30_days"))
    # 31 days ago is out; largest |z| first
    assert [(r["robot_id"], r["metric"], r["z_score"]) for r in got] == [
        (R2, "latency_ms_avg", -5.0), (R1, "motor_temp_c_avg", 4.5)]


def test_q_procedure_telemetry_last_7_days(engine) -> None:
    got = _rows(run_athena_query(engine, "q_procedure_telemetry_last_7_days"))
    assert [(r["procedure_id"], r["samples"], r["span_seconds"], r["error_samples"]) for r in got] == [
        ("PROC-000001", 3, 120, 1)]


def test_athena_files_use_unqualified_names_and_say_what_they_answer() -> None:
    # GIVEN the Athena files as deployed (the workgroup / named query sets the Glue database)
    for f in athena_files():
        text = f.path.read_text()
        tree = sqlglot.parse_one(text, read="athena")
        # THEN no table is schema-qualified and each file opens with its question
        assert all(not t.db for t in tree.find_all(exp.Table)), f.path.name
        assert text.startswith("-- ") and "?" in text.splitlines()[0], f.path.name

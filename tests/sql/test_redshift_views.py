"""Every Redshift view in sql/redshift, transpiled and run on DuckDB over real PostgreSQL rows.

The fixture is small and written here; each expected row is worked out by hand in the test
(comments show the arithmetic). The SQL executed is the deployed file (local/analytics_engine).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import duckdb
import psycopg
import pytest

from lake.detection import DetectionSettings
from local.analytics.duckdb_engine import open_engine, redshift_views, run_query, set_as_of
from tests.sql.lake_fixture import write_lake

UTC = dt.UTC
NOW = dt.datetime.now(UTC)
TODAY = NOW.date()
PAT = {p: p.lower() * 64 for p in "ABCD"}  # patient keys (64 hex chars)


def ts(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, minute, tzinfo=UTC)


def _insert(conn: psycopg.Connection, table: str, rows: list[dict]) -> None:
    for row in rows:
        cols = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


LINEAGE = {"src_key": "fixture.csv", "src_modified": ts(1, 1)}


def robot(robot_id: str, facility: str, status: str = "active") -> dict:
    return {"robot_id": robot_id, "serial_number": f"SN-{robot_id[-4:]}X", "model": "M1", "manufacturer": "Acme",
            "facility_id": facility, "facility_name": facility, "install_date": dt.date(2023, 1, 1),
            "firmware_version": "1.0.0", "status": status, **LINEAGE}


def procedure(pid: int, robot_id: str, facility: str, surgeon: int, patient: str, ptype: str, category: str,
              sched: dt.datetime, hours: float | None, status: str = "completed", emergency: bool = False,
              start: dt.datetime | None = None) -> dict:
    start = start or sched
    return {"procedure_id": f"PROC-{pid:06d}", "robot_id": robot_id, "facility_id": facility,
            "surgeon_id": f"SURG-{surgeon:04d}", "patient_key": PAT[patient], "patient_age_at_procedure": 64,
            "patient_age_90_plus": False, "patient_zip3": "100", "procedure_type": ptype,
            "procedure_category": category, "complexity": "medium", "is_emergency": emergency,
            "scheduled_start": sched, "actual_start": None if hours is None else start,
            "actual_end": None if hours is None else start + dt.timedelta(hours=hours), "status": status, **LINEAGE}


def outcome(pid: int, success: bool, severity: str, los: float, readmitted: bool) -> dict:
    return {"outcome_id": f"OUT-{pid:06d}", "procedure_id": f"PROC-{pid:06d}", "success": success,
            "complication_occurred": severity != "none", "complication_severity": severity, "blood_loss_ml": 50,
            "length_of_stay_days": los, "readmitted_30d": readmitted, "conversion_to_open": False,
            "recorded_at": ts(6, 1), **LINEAGE}


def maintenance(mid: int, robot_id: str, mtype: str, start: dt.datetime, repair_hours: float | None,
                downtime: float, cost: float) -> dict:
    return {"maintenance_id": f"MAINT-{mid:06d}", "robot_id": robot_id, "maintenance_type": mtype,
            "started_at": start,
            "completed_at": None if repair_hours is None else start + dt.timedelta(hours=repair_hours),
            "technician_id": "TECH-0001", "downtime_hours": downtime, "parts_replaced": None, "cost_usd": cost,
            "failure_mode": "motor" if mtype != "scheduled" else None, **LINEAGE}


R1, R2, R3, R4 = "ROBOT-0001", "ROBOT-0002", "ROBOT-0003", "ROBOT-0004"
ROBOTS = [robot(R1, "FAC-001"), robot(R2, "FAC-002"), robot(R3, "FAC-001", "retired"), robot(R4, "FAC-002")]
# 2024-01-01 is a Monday.
PROCEDURES = [
    procedure(1, R1, "FAC-001", 1, "A", "prostatectomy", "urology", ts(1, 2, 8), 2, start=ts(1, 2, 8, 30)),
    procedure(2, R1, "FAC-001", 1, "B", "prostatectomy", "urology", ts(1, 3, 9), 1, emergency=True),
    procedure(3, R1, "FAC-001", 2, "A", "cholecystectomy", "general", ts(1, 10, 8), None, status="cancelled"),
    procedure(4, R1, "FAC-001", 1, "C", "prostatectomy", "urology", ts(1, 24, 8), 3, status="converted"),
    procedure(5, R2, "FAC-002", 3, "B", "hysterectomy", "gynecology", ts(2, 15, 13), 2.5),
    procedure(6, R2, "FAC-002", 3, "D", "hysterectomy", "gynecology", ts(4, 10, 10), 2),
    procedure(7, R1, "FAC-001", 1, "C", "prostatectomy", "urology", ts(3, 20, 8), 2),
    procedure(8, R2, "FAC-002", 3, "A", "hysterectomy", "gynecology", ts(4, 10, 14), 0.75),
]
OUTCOMES = [
    outcome(1, True, "none", 2, False),
    outcome(2, True, "minor", 3, True),
    outcome(4, False, "major", 6, False),
    outcome(5, True, "none", 1, False),
    outcome(6, False, "critical", 4, True),
    outcome(7, True, "none", 2, False),
]  # procedure 8 has no outcome yet
MAINTENANCE = [
    maintenance(1, R1, "unscheduled", ts(1, 5, 10), 4, 5, 1000),
    maintenance(2, R1, "scheduled", ts(2, 1, 8), 2, 2, 200),
    maintenance(3, R1, "emergency", ts(1, 15, 10), 24, 30, 5000),
    maintenance(4, R1, "unscheduled", ts(2, 4, 10), None, 1, 100),
    maintenance(5, R2, "calibration", ts(3, 1, 9), 1, 1, 50),
]


def ledger(key: str, entity: str | None, status: str, rows: tuple[int, int, int, int],
           finished: dt.datetime | None, first_seen: dt.datetime, replays: int = 0) -> dict:
    rows_in, loaded, parked, rejected = rows
    return {"object_key": key, "content_checksum": "c" * 32, "entity": entity, "status": status,
            "rows_in": rows_in, "rows_loaded": loaded, "rows_parked": parked, "rows_rejected": rejected,
            "replays_skipped": replays, "first_seen_at": first_seen, "finished_at": finished}


LEDGER = [
    ledger("surgical_procedures/a.csv", "surgical_procedures", "loaded", (10, 10, 0, 0), ts(5, 1, 10), ts(5, 1, 9), 1),
    ledger("surgical_procedures/b.csv", "surgical_procedures", "partial", (5, 2, 1, 2), ts(5, 1, 12), ts(5, 1, 11)),
    ledger("procedure_outcomes/c.csv", "procedure_outcomes", "rejected", (3, 0, 0, 3), ts(5, 1, 13), ts(5, 1, 13)),
    ledger("procedure_telemetry/d.ndjson", "procedure_telemetry", "failed", (0, 0, 0, 0), None, ts(5, 2, 9)),
    ledger("junk/x.txt", None, "rejected", (0, 0, 0, 0), ts(5, 2, 8), ts(5, 2, 8)),
]
PARKED = [
    {"entity": "surgical_procedures", "row_key": "PROC-000123", "parent_entity": "surgical_robots",
     "parent_key": "ROBOT-0099", "row_data": json.dumps({"procedure_id": "PROC-000123"}),
     "src_key": "surgical_procedures/b.csv", "src_modified": ts(5, 1), "parked_at": ts(5, 1, 12)},
    {"entity": "procedure_outcomes", "row_key": "OUT-000999", "parent_entity": "surgical_procedures",
     "parent_key": "PROC-000999", "row_data": json.dumps({"outcome_id": "OUT-000999"}),
     "src_key": "procedure_outcomes/e.csv", "src_modified": ts(5, 3), "parked_at": ts(5, 3, 8)},
]


def hourly(robot_id: str, hour: dt.datetime, arm: int, n: int, temp: float | None, temp_max: float | None,
           latency: float | None, p95: float | None, errors: int, gap: bool = False, imputed: bool = False) -> dict:
    return {"robot_id": robot_id, "arm_id": arm, "hour": hour, "date": hour.date().isoformat(), "sample_count": n,
            "motor_temp_c_avg": temp, "motor_temp_c_max": temp_max, "latency_ms_avg": latency,
            "latency_ms_p95": p95, "error_count": errors, "sample_gap": gap, "is_imputed": imputed}


HOURLY = [
    hourly(R1, ts(1, 10, 9), 1, 10, 40, 45, 5, 8, 1),
    hourly(R1, ts(1, 10, 9), 2, 30, 44, 50, 7, 9, 0),
    hourly(R1, ts(1, 12, 10), 1, 20, 50, 55, 10, 12, 2),
    hourly(R1, ts(1, 20, 10), 1, 10, 42, 43, 6, 7, 0, gap=True),  # measured but sparse
    # gaps the views must not count as measurements: a filled (imputed) hour carrying made-up
    # counts and values, and a silent arm's hour with no sample and nothing to fill from
    hourly(R1, ts(1, 12, 10), 2, 999, 99, 99, 99, 99, 50, gap=True, imputed=True),
    hourly(R1, ts(1, 12, 10), 3, 0, None, None, None, None, 0, gap=True),
]
ANOMALIES = [
    {"robot_id": R1, "hour": ts(1, 10, 9), "date": "2024-01-10", "metric": "motor_temp_c_avg", "z_score": 3.5},
    {"robot_id": R1, "hour": ts(1, 10, 9), "date": "2024-01-10", "metric": "latency_ms_avg", "z_score": 3.1},
    {"robot_id": R1, "hour": ts(1, 13, 5), "date": "2024-01-13", "metric": "motor_temp_c_avg", "z_score": 4.0},
]


def sample(n: int, robot_id: str, procedure_id: str, at: dt.datetime) -> dict:
    return {"telemetry_id": f"00000000-0000-4000-8000-{n:012d}", "procedure_id": procedure_id,
            "robot_id": robot_id, "timestamp": at, "date": at.date().isoformat(), "arm_id": 1}


RECENT = NOW - dt.timedelta(hours=2)
TELEMETRY = [
    sample(1, R2, "PROC-000005", ts(2, 15, 13)),
    sample(2, R2, "PROC-000005", ts(2, 15, 14)),
    sample(3, R2, "PROC-999999", ts(2, 15, 13, 10)),  # unknown procedure
    sample(4, R2, "PROC-999999", ts(2, 15, 13, 20)),
    sample(5, "ROBOT-0009", "PROC-000005", ts(2, 15, 13, 30)),  # unknown robot
    sample(6, R2, "PROC-000001", ts(1, 2, 9)),  # procedure 1 ran on robot 1
    sample(7, R1, "PROC-000007", RECENT),  # robot 1 is active right now
]


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    write_lake(root, "telemetry_hourly", HOURLY)
    write_lake(root, "telemetry_anomalies", ANOMALIES)
    write_lake(root, "procedure_telemetry", TELEMETRY)
    write_lake(root, "procedure_telemetry", [TELEMETRY[6], TELEMETRY[3]], name="resent")  # duplicates
    return root


@pytest.fixture
def engine(migrated_db: str, lake_root: Path) -> duckdb.DuckDBPyConnection:
    with psycopg.connect(migrated_db) as conn:
        _insert(conn, "surgical_robots", ROBOTS)
        _insert(conn, "surgical_procedures", PROCEDURES)
        _insert(conn, "procedure_outcomes", OUTCOMES)
        _insert(conn, "robot_maintenance_logs", MAINTENANCE)
        _insert(conn, "etl.ingest_ledger", LEDGER)
        _insert(conn, "etl.parked_rows", PARKED)
    return open_engine(migrated_db, lake_root)


def rows(con: duckdb.DuckDBPyConnection, view: str, order: str) -> list[dict]:
    """The view's rows as dicts (floats rounded to 6 places), ordered."""
    table = run_query(con, f"SELECT * FROM analytics.{view} ORDER BY {order}")
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in table.to_pylist()]


def r6(x: float) -> float:
    return round(x, 6)


D = dt.date


def test_every_view_file_is_tested() -> None:
    tested = {name[5:] for name in globals() if name.startswith("test_v_") or name == "test_as_of"}
    assert {f.name for f in redshift_views() if f.kind == "view"} == tested


def test_v_procedure_volume_weekly(engine) -> None:
    # GIVEN procedures in 6 facility/category weeks (procedure 3 cancelled)
    # WHEN the view is read THEN moving average = sum of the last 4 calendar weeks / 4 and
    # week-over-week change against the previous calendar week (0 when absent)
    got = rows(engine, "v_procedure_volume_weekly", "facility_id, procedure_category, week_start")
    cols = ("facility_id", "procedure_category", "week_start", "procedures", "cancelled", "emergencies",
            "procedures_4wk_avg", "wow_change")
    expected = [
        ("FAC-001", "general", D(2024, 1, 8), 0, 1, 0, 0.0, 0),
        ("FAC-001", "urology", D(2024, 1, 1), 2, 0, 1, 2 / 4, 2),
        ("FAC-001", "urology", D(2024, 1, 22), 1, 0, 0, (2 + 1) / 4, 1),  # Jan 1 is 3 weeks back
        ("FAC-001", "urology", D(2024, 3, 18), 1, 0, 0, 1 / 4, 1),
        ("FAC-002", "gynecology", D(2024, 2, 12), 1, 0, 0, 1 / 4, 1),
        ("FAC-002", "gynecology", D(2024, 4, 8), 2, 0, 0, 2 / 4, 2),
    ]
    assert got == [dict(zip(cols, e, strict=True)) for e in expected]


def test_v_outcome_trend_monthly(engine) -> None:
    got = rows(engine, "v_outcome_trend_monthly", "procedure_type, month_start")
    cols = ("procedure_type", "month_start", "outcomes", "success_rate", "complication_rate",
            "major_complication_rate", "readmission_rate", "avg_length_of_stay_days", "success_rate_3mo",
            "complication_rate_3mo", "major_complication_rate_3mo", "readmission_rate_3mo",
            "avg_length_of_stay_days_3mo")
    expected = [
        # Feb: procedure 5 only. Apr: procedure 6 (critical, readmitted); window Feb..Apr pools 5 + 6
        ("hysterectomy", D(2024, 2, 1), 1, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        ("hysterectomy", D(2024, 4, 1), 1, 0.0, 1.0, 1.0, 1.0, 4.0, 0.5, 0.5, 0.5, 0.5, (1 + 4) / 2),
        # Jan: procedures 1, 2, 4 (success T T F; complications none/minor/major; LOS 2, 3, 6)
        ("prostatectomy", D(2024, 1, 1), 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 11 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 11 / 3),
        # Mar: procedure 7; window Jan..Mar pools 1, 2, 4, 7
        ("prostatectomy", D(2024, 3, 1), 1, 1.0, 0.0, 0.0, 0.0, 2.0, 3 / 4, 2 / 4, 1 / 4, 1 / 4, 13 / 4),
    ]
    assert got == [dict(zip(cols, [r6(v) if isinstance(v, float) else v for v in e], strict=True))
                   for e in expected]


def test_v_robot_utilization_daily(engine) -> None:
    got = rows(engine, "v_robot_utilization_daily", "robot_id, day")
    summary = [(r["robot_id"], r["day"], r["procedures"], r["operating_hours"], r["utilization"]) for r in got]
    assert summary == [
        (R1, D(2024, 1, 2), 1, 2.0, r6(2 / 24)),
        (R1, D(2024, 1, 3), 1, 1.0, r6(1 / 24)),
        (R1, D(2024, 1, 24), 1, 3.0, r6(3 / 24)),
        (R1, D(2024, 3, 20), 1, 2.0, r6(2 / 24)),
        (R2, D(2024, 2, 15), 1, 2.5, r6(2.5 / 24)),
        (R2, D(2024, 4, 10), 2, 2.75, r6(2.75 / 24)),  # 10:00-12:00 and 14:00-14:45
    ]
    assert (got[-1]["first_start"], got[-1]["last_end"]) == (ts(4, 10, 10), ts(4, 10, 14, 45))
    assert got[0]["facility_id"] == "FAC-001"


def test_v_robot_reliability(engine) -> None:
    got = {r["robot_id"]: r for r in rows(engine, "v_robot_reliability", "robot_id")}
    r1 = got[R1]
    # failures: Jan 5 (4 h repair), Jan 15 (24 h), Feb 4 (not completed); gaps 240 h and 480 h
    assert (r1["maintenance_events"], r1["unscheduled_events"]) == (4, 3)
    assert (r1["mtbf_hours"], r1["mttr_hours"]) == ((240 + 480) / 2, (4 + 24) / 2)
    assert (r1["downtime_hours"], r1["cost_usd"]) == (5 + 2 + 30 + 1, 1000 + 200 + 5000 + 100)
    assert r1["procedure_hours"] == 2 + 1 + 3 + 2  # procedures 1, 2, 4, 7
    assert r1["procedure_hours_per_failure"] == r6(8 / 3)
    assert r1["last_service_at"] == ts(2, 4, 10)
    assert r1["days_since_last_service"] == (TODAY - D(2024, 2, 4)).days
    r2 = got[R2]
    assert (r2["maintenance_events"], r2["unscheduled_events"], r2["mtbf_hours"], r2["mttr_hours"]) == (1, 0, None, None)
    assert (r2["downtime_hours"], r2["cost_usd"], r2["procedure_hours"]) == (1.0, 50.0, 5.25)
    assert r2["procedure_hours_per_failure"] is None
    assert r2["days_since_last_service"] == (TODAY - D(2024, 3, 1)).days
    for quiet in (R3, R4):
        assert (got[quiet]["maintenance_events"], got[quiet]["cost_usd"], got[quiet]["last_service_at"]) == (0, 0, None)
    assert got[R3]["status"] == "retired"


def test_v_facility_performance(engine) -> None:
    got = rows(engine, "v_facility_performance", "quarter_start, success_rank")
    cols = ("facility_id", "quarter_start", "procedures", "outcomes", "success_rate", "complication_rate",
            "readmission_rate", "avg_duration_minutes", "avg_length_of_stay_days", "success_rank")
    expected = [
        ("FAC-002", D(2024, 1, 1), 1, 1, 1.0, 0.0, 0.0, 150.0, 1.0, 1),
        # procedures 1, 2, 4, 7 (3 cancelled): 120, 60, 180, 120 minutes; LOS 2, 3, 6, 2
        ("FAC-001", D(2024, 1, 1), 4, 4, 0.75, 0.5, 0.25, 120.0, 3.25, 2),
        # procedures 6 and 8 (8 has no outcome yet)
        ("FAC-002", D(2024, 4, 1), 2, 1, 0.0, 1.0, 1.0, (120 + 45) / 2, 4.0, 1),
    ]
    assert got == [dict(zip(cols, e, strict=True)) for e in expected]


def test_v_surgeon_learning_curve(engine) -> None:
    got = rows(engine, "v_surgeon_learning_curve", "surgeon_id, nth_procedure")
    summary = [(r["surgeon_id"], r["nth_procedure"], r["procedure_id"], r["duration_minutes"], r["complication"],
                r["duration_minutes_last5"], r["complication_rate_to_date"]) for r in got]
    assert summary == [
        ("SURG-0001", 1, "PROC-000001", 120.0, 0, 120.0, 0.0),
        ("SURG-0001", 2, "PROC-000002", 60.0, 1, 90.0, 0.5),
        ("SURG-0001", 3, "PROC-000004", 180.0, 1, 120.0, r6(2 / 3)),
        ("SURG-0001", 4, "PROC-000007", 120.0, 0, 120.0, 0.5),
        ("SURG-0003", 1, "PROC-000005", 150.0, 0, 150.0, 0.0),
        ("SURG-0003", 2, "PROC-000006", 120.0, 1, 135.0, 0.5),
        ("SURG-0003", 3, "PROC-000008", 45.0, 0, 105.0, r6(1 / 3)),
    ]


def test_v_telemetry_health_daily(engine) -> None:
    got = rows(engine, "v_telemetry_health_daily", "robot_id, day")
    cols = ("robot_id", "day", "samples", "motor_temp_avg", "motor_temp_max", "latency_ms_avg",
            "latency_ms_p95_max", "errors", "errors_per_1k", "anomalies", "gap_arm_hours", "motor_temp_avg_7d",
            "latency_ms_avg_7d", "errors_per_1k_7d")
    expected = [
        # Jan 10: arms of 10 and 30 samples at 40 and 44 degrees -> (400 + 1320) / 40 = 43
        (R1, D(2024, 1, 10), 40, 43.0, 50.0, (50 + 210) / 40, 9.0, 1, 25.0, 2, 0, 43.0, 6.5, 25.0),
        # Jan 12: the measured arm only (the filled and the silent arm are gaps, not samples);
        # window Jan 6..12 pools Jan 10 and 12: 60 samples
        (R1, D(2024, 1, 12), 20, 50.0, 55.0, 10.0, 12.0, 2, 100.0, 0, 2, (1720 + 1000) / 60, (260 + 200) / 60,
         50.0),
        # Jan 20: window Jan 14..20 holds only itself; its one hour is sparse
        (R1, D(2024, 1, 20), 10, 42.0, 43.0, 6.0, 7.0, 0, 0.0, 0, 1, 42.0, 6.0, 0.0),
    ]
    assert got == [dict(zip(cols, [r6(v) if isinstance(v, float) else v for v in e], strict=True))
                   for e in expected]


def test_v_failure_precursors(engine) -> None:
    got = {r["maintenance_id"]: r for r in rows(engine, "v_failure_precursors", "maintenance_id")}
    assert set(got) == {"MAINT-000001", "MAINT-000003", "MAINT-000004"}  # no scheduled/calibration
    # Jan 15 10:00: precursor window [Jan 12 10:00, Jan 15 10:00) holds the Jan 12 hour; baseline
    # [Dec 13, Jan 12 10:00) the Jan 10 hour (40 samples, 43 degrees, 6.5 ms, 1 error)
    m3 = got["MAINT-000003"]
    assert (m3["precursor_samples"], m3["precursor_motor_temp_avg"], m3["precursor_latency_ms_avg"]) == (20, 50.0, 10.0)
    assert (m3["baseline_samples"], m3["baseline_motor_temp_avg"], m3["baseline_latency_ms_avg"]) == (40, 43.0, 6.5)
    assert (m3["motor_temp_delta"], m3["latency_ms_delta"]) == (7.0, 3.5)
    assert (m3["precursor_errors_per_1k"], m3["baseline_errors_per_1k"]) == (100.0, 25.0)
    assert m3["precursor_anomalies"] == 1  # Jan 13 05:00; the Jan 10 ones are baseline
    # Feb 4 10:00: nothing in the 3 days before; baseline = Jan 10, 12 and 20 (70 samples)
    m4 = got["MAINT-000004"]
    assert (m4["precursor_samples"], m4["precursor_motor_temp_avg"], m4["motor_temp_delta"]) == (0, None, None)
    assert (m4["baseline_samples"], m4["baseline_motor_temp_avg"]) == (70, r6((1720 + 1000 + 420) / 70))
    assert m4["baseline_errors_per_1k"] == r6(3 / 70 * 1000)
    # Jan 5: no telemetry before it at all
    m1 = got["MAINT-000001"]
    assert (m1["precursor_samples"], m1["baseline_samples"], m1["precursor_anomalies"]) == (0, 0, 0)
    assert m1["baseline_motor_temp_avg"] is None


def test_v_patient_cohort_outcomes(engine) -> None:
    got = rows(engine, "v_patient_cohort_outcomes", "cohort_month")
    cols = ("cohort_month", "patients", "procedures", "repeat_patients", "repeat_procedures", "repeat_rate",
            "first_procedure_success_rate", "readmitted_30d_patients", "readmission_30d_rate",
            "readmitted_90d_patients", "readmission_90d_rate")
    expected = [
        # A: procedures 1 (Jan 2) and 8 (Apr 10, 99 days later: not within 90); 3 cancelled
        # B: 2 (Jan 3, readmitted) and 5; C: 4 (Jan 24, failed) and 7 (Mar 20, 56 days later)
        (D(2024, 1, 1), 3, 6, 3, 3, 1.0, r6(2 / 3), 1, r6(1 / 3), 2, r6(2 / 3)),
        # D: procedure 6 (failed, readmitted)
        (D(2024, 4, 1), 1, 1, 0, 0, 0.0, 0.0, 1, 1.0, 1, 1.0),
    ]
    assert got == [dict(zip(cols, e, strict=True)) for e in expected]


def test_v_robot_inactivity(tmp_path: Path) -> None:
    # GIVEN "now" pinned to Apr 12 2024 15:00 and five robots (R3 retired, R5 in maintenance)
    robots = [robot(R1, "FAC-001"), robot(R2, "FAC-002"), robot(R3, "FAC-001", "retired"), robot(R4, "FAC-002"),
              robot("ROBOT-0005", "FAC-001", "maintenance")]
    procs = [
        procedure(1, R1, "FAC-001", 1, "A", "t", "c", ts(4, 12, 5), 5),  # ends 10:00, 5 h ago
        procedure(2, R2, "FAC-002", 1, "A", "t", "c", ts(4, 10, 14), 0.75),  # ends Apr 10 14:45
        procedure(3, R2, "FAC-002", 1, "A", "t", "c", ts(4, 20, 9), 1),  # after as_of: not activity yet
        procedure(4, R3, "FAC-001", 1, "A", "t", "c", ts(4, 1, 9), 1),
        procedure(5, R4, "FAC-002", 1, "A", "t", "c", ts(4, 11, 9), None, status="cancelled"),
    ]
    write_lake(tmp_path, "telemetry_hourly", [
        hourly(R2, ts(4, 9, 10), 1, 5, 40, 40, 5, 5, 0),
        hourly(R2, ts(4, 12, 10), 1, 5, 40, 40, 5, 5, 0, gap=True, imputed=True),  # filled, not telemetry
        hourly("ROBOT-0005", ts(4, 11, 9), 1, 5, 40, 40, 5, 5, 0),
        hourly("ROBOT-0005", ts(4, 12, 11), 2, 0, None, None, None, None, 0, gap=True),  # no sample
    ])
    rds = {"surgical_robots": _arrow("surgical_robots", robots),
           "surgical_procedures": _arrow("surgical_procedures", procs)}

    def inactive(hours: int) -> list[tuple]:
        con = open_engine(None, tmp_path, rds_tables=rds, settings=DetectionSettings(inactivity_hours=hours))
        set_as_of(con, ts(4, 12, 15))
        return [(r["robot_id"], r["last_procedure_at"], r["last_telemetry_at"], r["last_activity_at"],
                 r["hours_inactive"]) for r in rows(con, "v_robot_inactivity", "robot_id")]

    # WHEN read with the default 48 h THEN R2 (last activity Apr 10 14:45: 49 hour boundaries
    # before 15:00 two days later) and R4 (never active: a cancelled booking only) are listed
    assert inactive(48) == [(R2, ts(4, 10, 14, 45), ts(4, 9, 10), ts(4, 10, 14, 45), 49),
                            (R4, None, None, None, None)]
    # AND with inactivity_hours = 24, R5 too (last measured hour Apr 11 09:00, 30 hours before)
    assert [r[0] for r in inactive(24)] == [R2, R4, "ROBOT-0005"]
    assert inactive(24)[2][2:] == (ts(4, 11, 9), ts(4, 11, 9), 30)


def _arrow(entity: str, rows_: list[dict]):
    import pyarrow as pa

    from lake.contract import ENTITIES, LINEAGE_COLUMNS, arrow_schema

    schema = arrow_schema((*ENTITIES[entity].stored_columns(), *LINEAGE_COLUMNS))
    return pa.Table.from_pylist([{"loaded_at": ts(1, 1), **r} for r in rows_], schema=schema)


def test_as_of(engine) -> None:
    # GIVEN the deployed definition THEN "now" is the current time
    (got,) = run_query(engine, "SELECT as_of FROM analytics.as_of").to_pylist()
    assert abs(got["as_of"].replace(tzinfo=UTC) - dt.datetime.now(UTC)) < dt.timedelta(minutes=5)
    # WHEN it is pinned (as lake demo does) THEN the views that look back from now follow it
    set_as_of(engine, ts(3, 1, 12))
    reliability = {r["robot_id"]: r for r in rows(engine, "v_robot_reliability", "robot_id")}
    assert reliability[R1]["days_since_last_service"] == 26  # Feb 4 -> Mar 1 (2024 is a leap year)
    assert reliability[R2]["days_since_last_service"] == 0  # serviced Mar 1 09:00


def test_v_orphan_telemetry(engine) -> None:
    got = rows(engine, "v_orphan_telemetry", '"date", robot_id, procedure_id')
    summary = [(r["date"], r["robot_id"], r["procedure_id"], r["reason"], r["samples"]) for r in got]
    assert summary == [
        ("2024-01-02", R2, "PROC-000001", "robot_mismatch", 1),
        ("2024-02-15", R2, "PROC-999999", "unknown_procedure", 2),  # one re-sent sample counts once
        ("2024-02-15", "ROBOT-0009", "PROC-000005", "unknown_robot", 1),
    ]
    assert (got[1]["first_sample_at"], got[1]["last_sample_at"]) == (ts(2, 15, 13, 10), ts(2, 15, 13, 20))


def test_v_ingest_reconciliation(engine) -> None:
    got = rows(engine, "v_ingest_reconciliation", "day, entity")
    cols = ("entity", "day", "objects", "objects_loaded", "objects_partial", "objects_rejected",
            "objects_unfinished", "rows_in", "rows_loaded", "rows_parked", "rows_rejected", "replays_skipped",
            "still_parked", "oldest_parked_at", "unbalanced_rows")
    expected = [
        ("procedure_outcomes", D(2024, 5, 1), 1, 0, 0, 1, 0, 3, 0, 0, 3, 0, 0, None, 0),
        ("surgical_procedures", D(2024, 5, 1), 2, 1, 1, 0, 0, 15, 12, 1, 2, 1, 1, ts(5, 1, 12), 0),
        ("(unknown)", D(2024, 5, 2), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, None, 0),
        ("procedure_telemetry", D(2024, 5, 2), 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, None, 0),  # failed, by first seen
        ("procedure_outcomes", D(2024, 5, 3), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, ts(5, 3, 8), 0),  # parked only
    ]
    assert got == [dict(zip(cols, e, strict=True)) for e in expected]


def test_failure_precursor_window_boundaries(tmp_path: Path) -> None:
    # GIVEN one failure at Mar 10 12:00 and hourly rows around the window edges
    import pyarrow as pa

    from lake.contract import ENTITIES, LINEAGE_COLUMNS, arrow_schema

    def arrow(entity: str, rows: list[dict]) -> pa.Table:
        schema = arrow_schema((*ENTITIES[entity].stored_columns(), *LINEAGE_COLUMNS))
        return pa.Table.from_pylist([{"loaded_at": ts(1, 1), **r} for r in rows], schema=schema)

    start = ts(3, 10, 12)
    edges = {  # hour -> sample_count, so each edge shows up in a distinct sum
        start - dt.timedelta(days=3): 1,  # first precursor hour (inclusive)
        start - dt.timedelta(days=3, hours=1): 10,  # last baseline hour
        start - dt.timedelta(days=33): 100,  # first baseline hour (inclusive)
        start - dt.timedelta(days=33, hours=1): 1000,  # too early
        start: 10000,  # the failure's own hour: excluded
    }
    write_lake(tmp_path, "telemetry_hourly", [hourly(R1, h, 1, n, 40, 40, 5, 5, 0) for h, n in edges.items()])
    con = open_engine(None, tmp_path, rds_tables={
        "surgical_robots": arrow("surgical_robots", [robot(R1, "FAC-001")]),
        "robot_maintenance_logs": arrow("robot_maintenance_logs", [maintenance(9, R1, "emergency", start, 1, 1, 1)]),
    })
    # WHEN the view is read THEN precursor = [start - 3 d, start), baseline = [start - 33 d, start - 3 d)
    (row,) = run_query(con, "SELECT precursor_samples, baseline_samples FROM analytics.v_failure_precursors").to_pylist()
    assert row == {"precursor_samples": 1, "baseline_samples": 10 + 100}


def _monthly_outcomes(facility: str, year: int, month: int, first_pid: int, successes: int, complications: int,
                      readmissions: int) -> tuple[list[dict], list[dict]]:
    """Four procedures with outcomes on the 10th: the first `successes` succeed, and so on."""
    procs, outs = [], []
    for i in range(4):
        pid = first_pid + i
        when = dt.datetime(year, month, 10, 8 + i, tzinfo=UTC)
        procs.append(procedure(pid, R1, facility, 1, "A", "t", "c", when, 1))
        outs.append(outcome(pid, i < successes, "minor" if i < complications else "none", 1, i < readmissions))
    return procs, outs


def test_v_facility_outcome_trend_class(tmp_path: Path) -> None:
    # GIVEN "now" = Jun 30 2024 and monthly rates over 4 outcomes a month:
    # FAC-001 Jan-Jun: successes 0,1,2,2,3,4, complications 4,3,2,2,1,0, readmissions 1 each;
    #   plus Jun 2023 (12 months back: outside the window) and Jul 2024 (after now)
    # FAC-002 Mar-Jun: 4 months only; FAC-003 Jan-Jun: successes 4,3,3,2,1,0, nothing else
    plan = [("FAC-001", 2024, m, s, c, 1) for m, s, c in zip(range(1, 7), (0, 1, 2, 2, 3, 4), (4, 3, 2, 2, 1, 0),
                                                             strict=True)]
    plan += [("FAC-001", 2023, 6, 0, 4, 4), ("FAC-001", 2024, 7, 0, 4, 4)]
    plan += [("FAC-002", 2024, m, s, 0, 0) for m, s in zip(range(3, 7), (1, 2, 3, 4), strict=True)]
    plan += [("FAC-003", 2024, m, s, 0, 0) for m, s in zip(range(1, 7), (4, 3, 3, 2, 1, 0), strict=True)]
    procs, outs = [], []
    for i, (facility, year, month, s, c, r) in enumerate(plan):
        p, o = _monthly_outcomes(facility, year, month, 100 + 4 * i, s, c, r)
        procs += p
        outs += o
    con = open_engine(None, tmp_path, rds_tables={
        "surgical_robots": _arrow("surgical_robots", [robot(R1, "FAC-001")]),
        "surgical_procedures": _arrow("surgical_procedures", procs),
        "procedure_outcomes": _arrow("procedure_outcomes", outs)})
    set_as_of(con, dt.datetime(2024, 6, 30, 12, tzinfo=UTC))
    got = {(r["facility_id"], r["metric"]): r for r in rows(con, "v_facility_outcome_trend_class", "facility_id")}
    # THEN Mann-Kendall by hand. 6 points, one tied pair, all other 14 pairs rising: S = 14,
    # Var = (6*5*17 - 2*1*9) / 18 = 492 / 18, Z = (14 - 1) / sqrt(Var) = 2.4865
    var6, z6 = 492 / 18, 13 / math.sqrt(492 / 18)
    summary = {k: (r["months"], r["first_month"], r["last_month"], r["first_month_rate"], r["last_month_rate"],
                   r["s_statistic"], r["s_variance"], r["z_score"], r["trend_class"]) for k, r in got.items()}
    jan, mar, jun = D(2024, 1, 1), D(2024, 3, 1), D(2024, 6, 1)
    assert summary[("FAC-001", "success_rate")] == (6, jan, jun, 0.0, 1.0, 14, r6(var6), r6(z6), "improving")
    # complications fall: S = -14, and falling complications are an improvement
    assert summary[("FAC-001", "complication_rate")] == (6, jan, jun, 1.0, 0.0, -14, r6(var6), r6(-z6), "improving")
    # six equal rates: S = 0 and Var = (510 - 6*5*17) / 18 = 0 -> Z = 0
    assert summary[("FAC-001", "readmission_rate")] == (6, jan, jun, 0.25, 0.25, 0, 0.0, 0.0, "stable")
    # 4 months: S = 6, Z = 5 / sqrt(4*3*13/18) = 1.70, but too few points to decide
    assert summary[("FAC-002", "success_rate")][0:1] + summary[("FAC-002", "success_rate")][5:] == (
        4, 6, r6(156 / 18), r6(5 / math.sqrt(156 / 18)), "insufficient data")
    assert summary[("FAC-002", "success_rate")][1] == mar
    assert summary[("FAC-003", "success_rate")][5:] == (-14, r6(var6), r6(-z6), "declining")
    assert {got[("FAC-003", m)]["trend_class"] for m in ("complication_rate", "readmission_rate")} == {"stable"}
    assert len(got) == 9


def test_v_robot_reliability_trend_class(tmp_path: Path) -> None:
    # GIVEN "now" = Jun 30 2024; R1 operates 10 h a month Jan-Jun with 3, 2, 2, 1, 0, 0 failures
    # (a scheduled service in January does not count); R2 operates Apr-Jun; R3 never; R4 2 h a
    # month Feb-Jun without failures
    procs, maint = [], []
    pid = 1
    for robot_id, months, hours in ((R1, range(1, 7), 10), (R2, range(4, 7), 2), (R4, range(2, 7), 2)):
        for m in months:
            procs.append(procedure(pid, robot_id, "FAC-001", 1, "A", "t", "c", ts(m, 10, 6), hours))
            pid += 1
    mid = 1
    for month, failures in zip(range(1, 7), (3, 2, 2, 1, 0, 0), strict=True):
        for k in range(failures):
            maint.append(maintenance(mid, R1, "emergency" if k == 0 else "unscheduled", ts(month, 20 + k, 8), 2, 2, 1))
            mid += 1
    maint.append(maintenance(mid, R1, "scheduled", ts(1, 25, 8), 2, 2, 1))
    con = open_engine(None, tmp_path, rds_tables={
        "surgical_robots": _arrow("surgical_robots", [robot(r, "FAC-001") for r in (R1, R2, R3, R4)]),
        "surgical_procedures": _arrow("surgical_procedures", procs),
        "robot_maintenance_logs": _arrow("robot_maintenance_logs", maint)})
    set_as_of(con, dt.datetime(2024, 6, 30, 12, tzinfo=UTC))
    got = {r["robot_id"]: r for r in rows(con, "v_robot_reliability_trend_class", "robot_id")}
    # THEN R1's failures per 100 h are 30, 20, 20, 10, 0, 0: two tied pairs, 13 falling pairs:
    # S = -13, Var = (510 - 18 - 18) / 18, Z = (-13 + 1) / sqrt(Var) = -2.34 -> improving
    r1 = got[R1]
    assert (r1["months"], r1["first_month_failures_per_100h"], r1["last_month_failures_per_100h"]) == (6, 30.0, 0.0)
    assert (r1["s_statistic"], r1["s_variance"], r1["z_score"], r1["trend_class"]) == (
        -13, r6(474 / 18), r6(-12 / math.sqrt(474 / 18)), "improving")
    assert (got[R2]["months"], got[R2]["trend_class"]) == (3, "insufficient data")
    assert (got[R3]["months"], got[R3]["z_score"], got[R3]["trend_class"]) == (0, None, "insufficient data")
    # R4: five equal rates (0 failures): Var = 0, Z = 0 -> stable
    assert (got[R4]["months"], got[R4]["s_variance"], got[R4]["z_score"], got[R4]["trend_class"]) == (
        5, 0.0, 0.0, "stable")

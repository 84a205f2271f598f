"""A small hand-written lake for the API tests: two facilities, three robots, four procedures.

    FAC-001: ROBOT-0001 (M1, active), ROBOT-0002 (M2, maintenance)
    FAC-002: ROBOT-0003 (M1, active)
    PROC-000001 R1 urology    2025-02-03 08:00, 2 h, completed  outcome: success
    PROC-000002 R1 gynecology 2025-02-10 09:00, 1 h, completed  outcome: failure, minor complication
    PROC-000003 R2 urology    2025-02-04 10:00, cancelled (never started), no outcome
    PROC-000004 R3 urology    2025-02-05 08:00, 3 h, completed  outcome: success
    MAINT-000001 R1 unscheduled 2025-01-20 06:00 (+4 h); MAINT-000002 R3 scheduled 2025-01-22 06:00 (+2 h)
    telemetry_hourly: R1 arms 1, 2 at 2025-02-03 08:00 and 09:00; R3 arm 1 at 2025-02-05 08:00
    telemetry_anomalies: R1 2025-02-03 09:00 motor_temp_c_avg; R3 2025-02-05 08:00 latency_ms_p95
    ledger: two objects (one loaded, one partial)
Expected rows in the tests are worked out from this by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import psycopg

from tests.sql.lake_fixture import write_lake

UTC = dt.UTC
R1, R2, R3 = "ROBOT-0001", "ROBOT-0002", "ROBOT-0003"
P1, P2, P3, P4 = (f"PROC-00000{i}" for i in range(1, 5))
PATIENT = {"A": "a" * 64, "B": "b" * 64, "C": "c" * 64}


def ts(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


LINEAGE = {"src_key": "fixture.csv", "src_modified": ts(1, 1)}


def _robot(robot_id: str, facility: str, model: str, status: str) -> dict[str, Any]:
    return {"robot_id": robot_id, "serial_number": f"SN-{robot_id[-4:]}X", "model": model, "manufacturer": "Acme",
            "facility_id": facility, "facility_name": f"Hospital {facility[-1]}", "install_date": dt.date(2023, 1, 1),
            "firmware_version": "1.0.0", "status": status, **LINEAGE}


def _procedure(pid: str, robot_id: str, facility: str, patient: str, category: str, start: dt.datetime,
               hours: float | None, status: str = "completed") -> dict[str, Any]:
    return {"procedure_id": pid, "robot_id": robot_id, "facility_id": facility, "surgeon_id": "SURG-0001",
            "patient_key": PATIENT[patient], "patient_age_at_procedure": 64, "patient_age_90_plus": False,
            "patient_zip3": "100", "procedure_type": f"{category}-type", "procedure_category": category,
            "complexity": "medium", "is_emergency": False, "scheduled_start": start,
            "actual_start": None if hours is None else start,
            "actual_end": None if hours is None else start + dt.timedelta(hours=hours), "status": status, **LINEAGE}


def _outcome(pid: str, success: bool, severity: str) -> dict[str, Any]:
    return {"outcome_id": "OUT-" + pid[-6:], "procedure_id": pid, "success": success,
            "complication_occurred": severity != "none", "complication_severity": severity, "blood_loss_ml": 50.0,
            "length_of_stay_days": 2.0, "readmitted_30d": False, "conversion_to_open": False,
            "recorded_at": ts(3, 1), **LINEAGE}


def _maintenance(mid: int, robot_id: str, kind: str, start: dt.datetime, hours: float) -> dict[str, Any]:
    return {"maintenance_id": f"MAINT-{mid:06d}", "robot_id": robot_id, "maintenance_type": kind,
            "started_at": start, "completed_at": start + dt.timedelta(hours=hours), "technician_id": "TECH-0001",
            "downtime_hours": hours, "parts_replaced": None, "cost_usd": 100.0 * mid, "failure_mode": None,
            **LINEAGE}


ROBOTS = [_robot(R1, "FAC-001", "M1", "active"), _robot(R2, "FAC-001", "M2", "maintenance"),
          _robot(R3, "FAC-002", "M1", "active")]
PROCEDURES = [
    _procedure(P1, R1, "FAC-001", "A", "urology", ts(2, 3, 8), 2),
    _procedure(P2, R1, "FAC-001", "B", "gynecology", ts(2, 10, 9), 1),
    _procedure(P3, R2, "FAC-001", "A", "urology", ts(2, 4, 10), None, status="cancelled"),
    _procedure(P4, R3, "FAC-002", "C", "urology", ts(2, 5, 8), 3),
]
OUTCOMES = [_outcome(P1, True, "none"), _outcome(P2, False, "minor"), _outcome(P4, True, "none")]
MAINTENANCE = [_maintenance(1, R1, "unscheduled", ts(1, 20, 6), 4), _maintenance(2, R3, "scheduled", ts(1, 22, 6), 2)]
LEDGER = [
    {"object_key": "surgical_robots/a.csv", "content_checksum": "c1", "entity": "surgical_robots",
     "status": "loaded", "rows_in": 3, "rows_loaded": 3, "first_seen_at": ts(1, 1), "finished_at": ts(1, 1, 1)},
    {"object_key": "surgical_procedures/b.csv", "content_checksum": "c2", "entity": "surgical_procedures",
     "status": "partial", "rows_in": 5, "rows_loaded": 4, "rows_rejected": 1, "first_seen_at": ts(2, 1),
     "finished_at": ts(2, 1, 1)},
]


def _hour(robot_id: str, arm: int, hour: dt.datetime, temp: float) -> dict[str, Any]:
    return {"date": hour.date().isoformat(), "robot_id": robot_id, "arm_id": arm, "hour": hour, "sample_count": 10,
            "motor_temp_c_avg": temp, "latency_ms_p95": 5.0, "error_count": 0}


HOURLY = [_hour(R1, 1, ts(2, 3, 8), 40.0), _hour(R1, 2, ts(2, 3, 8), 41.0), _hour(R1, 1, ts(2, 3, 9), 42.0),
          _hour(R1, 2, ts(2, 3, 9), 43.0), _hour(R3, 1, ts(2, 5, 8), 50.0)]
ANOMALIES = [
    {"date": "2025-02-03", "robot_id": R1, "hour": ts(2, 3, 9), "metric": "motor_temp_c_avg", "value": 42.5,
     "baseline_mean": 40.0, "baseline_stddev": 0.5, "z_score": 5.0},
    {"date": "2025-02-05", "robot_id": R3, "hour": ts(2, 5, 8), "metric": "latency_ms_p95", "value": 9.0,
     "baseline_mean": 5.0, "baseline_stddev": 1.0, "z_score": 4.0},
]


def insert(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                     list(row.values()))


def load_database(admin_url: str) -> None:
    with psycopg.connect(admin_url) as conn:
        for table, rows in (("surgical_robots", ROBOTS), ("surgical_procedures", PROCEDURES),
                            ("procedure_outcomes", OUTCOMES), ("robot_maintenance_logs", MAINTENANCE),
                            ("etl.ingest_ledger", LEDGER)):
            insert(conn, table, rows)


def write_lake_tables(lake_root: Path) -> None:
    write_lake(lake_root, "telemetry_hourly", HOURLY)
    write_lake(lake_root, "telemetry_anomalies", ANOMALIES)

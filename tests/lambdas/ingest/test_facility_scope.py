"""Producers bound to facilities, on a real PostgreSQL + moto run through the handler.

Setup (trusted `<entity>/<file>` uploads, as `lake run` makes them): FAC-001 owns ROBOT-0001,
PROC-000001; FAC-002 owns ROBOT-0002, PROC-000002, OUT-000002 and MAINT-000002. Then FAC-001's
producer uploads under `<entity>/facility=FAC-001/`. Every expectation is written by hand.
"""

from __future__ import annotations

import psycopg
import pytest

from lake.contract import OBJECT_REASONS, REASONS
from lambdas.ingest.facility_scope import OBJECT_REASON, REASON
from tests.lambdas.ingest.samples import (
    MAINT_HEADER,
    OUTCOME_HEADER,
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    maintenance,
    ndjson,
    outcome,
    procedure,
    robot,
    telemetry,
)

F1 = "facility=FAC-001"


def proc(n: int, robot_n: int, facility: str) -> str:
    """A procedure row at `facility` (the sample helper writes FAC-001)."""
    return procedure(n, robot_n=robot_n).replace(f"ROBOT-{robot_n:04d},FAC-001,", f"ROBOT-{robot_n:04d},{facility},")


def ingest(lake, files: dict[str, str]) -> None:
    """Upload and ingest files one by one, in order (parents before children)."""
    for key, body in files.items():
        lake.put(key, body)
        assert lake.invoke(lake.drain_queue()) == {"batchItemFailures": []}


def rejects(lake, key: str, entity: str) -> list[tuple[int, list[str]]]:
    return [(r["line"], r["reasons"]) for r in lake.quarantine_lines(f"{entity}/{key}.rejects.ndjson")]


@pytest.fixture
def two_facilities(lake):
    ingest(lake, {
        "surgical_robots/fleet.csv": csv_file(ROBOT_HEADER, [robot(1), robot(2, facility="FAC-002")]),
        "surgical_procedures/p.csv": csv_file(PROC_HEADER, [proc(1, 1, "FAC-001"), proc(2, 2, "FAC-002")]),
        "procedure_outcomes/o.csv": csv_file(OUTCOME_HEADER, [outcome(2, 2)]),
        "robot_maintenance_logs/m.csv": csv_file(MAINT_HEADER, [maintenance(2, robot_n=2)]),
    })
    return lake


def test_reasons_are_in_the_contract() -> None:
    assert REASON in REASONS and OBJECT_REASON in OBJECT_REASONS


def test_a_producer_cannot_overwrite_or_attach_rows_of_another_facility(two_facilities) -> None:
    lake = two_facilities
    # GIVEN FAC-001's producer upload: for each entity one row of its own and rows that belong
    # to FAC-002 or name FAC-002's robot/procedure (line numbers: the header is line 1)
    robots = csv_file(ROBOT_HEADER, [
        robot(1, status="retired"),         # 2: its own robot, updated: loads
        robot(2, status="retired"),         # 3: FAC-002's robot re-sent as FAC-001: refused
        robot(3, facility="FAC-002"),       # 4: a row for another facility: refused
        robot(4),                           # 5: new robot of its own: loads
    ])
    procedures = csv_file(PROC_HEADER, [
        proc(2, 1, "FAC-001"),              # 2: FAC-002's procedure, moved to FAC-001: refused
        proc(3, 2, "FAC-001"),              # 3: a new procedure on FAC-002's robot: refused
        proc(4, 1, "FAC-001"),              # 4: its own: loads
    ])
    outcomes = csv_file(OUTCOME_HEADER, [
        outcome(2, 1),                      # 2: FAC-002's outcome re-pointed: refused
        outcome(5, 2),                      # 3: a new outcome on FAC-002's procedure: refused
        outcome(4, 4),                      # 4: its own procedure: loads
    ])
    logs = csv_file(MAINT_HEADER, [
        maintenance(2, robot_n=1),          # 2: FAC-002's log re-pointed: refused
        maintenance(5, robot_n=2),          # 3: a new log on FAC-002's robot: refused
        maintenance(1, robot_n=1),          # 4: its own robot: loads
    ])
    samples = ndjson([telemetry(1, robot_n=1, proc_n=1),   # 1: its own robot and procedure: loads
                      telemetry(2, robot_n=2, proc_n=2),   # 2: FAC-002's robot and procedure: refused
                      telemetry(3, robot_n=1, proc_n=2)])  # 3: FAC-002's procedure: refused
    # WHEN it is ingested (without a failure: had a refused row reached the database, its
    # backstop would have failed the load)
    ingest(lake, {
        f"surgical_robots/{F1}/r.csv": robots,
        f"surgical_procedures/{F1}/p.csv": procedures,
        f"procedure_outcomes/{F1}/o.csv": outcomes,
        f"robot_maintenance_logs/{F1}/m.csv": logs,
        f"procedure_telemetry/{F1}/t.ndjson": samples,
    })
    # THEN FAC-002's rows are exactly as its own upload left them
    assert lake.query("SELECT robot_id, facility_id, status, src_key FROM surgical_robots ORDER BY 1") == [
        ("ROBOT-0001", "FAC-001", "retired", f"surgical_robots/{F1}/r.csv"),
        ("ROBOT-0002", "FAC-002", "active", "surgical_robots/fleet.csv"),
        ("ROBOT-0004", "FAC-001", "active", f"surgical_robots/{F1}/r.csv"),
    ]
    assert lake.query("SELECT procedure_id, robot_id, facility_id FROM surgical_procedures ORDER BY 1") == [
        ("PROC-000001", "ROBOT-0001", "FAC-001"), ("PROC-000002", "ROBOT-0002", "FAC-002"),
        ("PROC-000004", "ROBOT-0001", "FAC-001")]
    assert lake.query("SELECT outcome_id, procedure_id FROM procedure_outcomes ORDER BY 1") == [
        ("OUT-000002", "PROC-000002"), ("OUT-000004", "PROC-000004")]
    assert lake.query("SELECT maintenance_id, robot_id FROM robot_maintenance_logs ORDER BY 1") == [
        ("MAINT-000001", "ROBOT-0001"), ("MAINT-000002", "ROBOT-0002")]
    assert lake.query("SELECT count(*) FROM etl.parked_rows") == [(0,)]
    # AND each refused row is in quarantine with its line and the reason
    assert rejects(lake, f"surgical_robots/{F1}/r.csv", "surgical_robots") == [
        (3, [REASON]), (4, [REASON])]
    for entity, key in (("surgical_procedures", "p.csv"), ("procedure_outcomes", "o.csv"),
                        ("robot_maintenance_logs", "m.csv")):
        assert rejects(lake, f"{entity}/{F1}/{key}", entity) == [(2, [REASON]), (3, [REASON])]
    assert rejects(lake, f"procedure_telemetry/{F1}/t.ndjson", "procedure_telemetry") == [
        (2, [REASON]), (3, [REASON])]
    [telemetry_file] = lake.keys(lake.processed, "procedure_telemetry/")
    assert lake.parquet(telemetry_file).column("telemetry_id").to_pylist() == ["00000000-0000-4000-8000-000000000001"]
    # AND the ledger adds up: rows_in = loaded + rejected, status partial
    ledger = {r["object_key"]: (r["status"], r["rows_in"], r["rows_loaded"], r["rows_rejected"])
              for r in lake.ledger() if F1 in r["object_key"]}
    assert ledger == {
        f"surgical_robots/{F1}/r.csv": ("partial", 4, 2, 2),
        f"surgical_procedures/{F1}/p.csv": ("partial", 3, 1, 2),
        f"procedure_outcomes/{F1}/o.csv": ("partial", 3, 1, 2),
        f"robot_maintenance_logs/{F1}/m.csv": ("partial", 3, 1, 2),
        f"procedure_telemetry/{F1}/t.ndjson": ("partial", 3, 1, 2),
    }


def test_a_parked_row_waits_for_a_parent_of_its_own_facility(two_facilities) -> None:
    lake = two_facilities
    # GIVEN FAC-001's outcomes for two procedures nobody has sent yet: both park
    ingest(lake, {f"procedure_outcomes/{F1}/early.csv": csv_file(OUTCOME_HEADER, [outcome(8, 8), outcome(9, 9)])})
    assert lake.query("SELECT row_key FROM etl.parked_rows ORDER BY 1") == [("OUT-000008",), ("OUT-000009",)]
    # WHEN FAC-001 sends PROC-000008 and FAC-002 sends PROC-000009
    ingest(lake, {
        f"surgical_procedures/{F1}/p8.csv": csv_file(PROC_HEADER, [proc(8, 1, "FAC-001")]),
        "surgical_procedures/facility=FAC-002/p9.csv": csv_file(PROC_HEADER, [proc(9, 2, "FAC-002")]),
    })
    # THEN FAC-001's outcome joins its own procedure; the other stays parked, never attached to
    # FAC-002's procedure (sql/rds/060_producer_facility_guard.sql)
    assert lake.query("SELECT outcome_id, procedure_id FROM procedure_outcomes ORDER BY 1") == [
        ("OUT-000002", "PROC-000002"), ("OUT-000008", "PROC-000008")]
    assert lake.query("SELECT row_key, parent_key, src_key FROM etl.parked_rows") == [
        ("OUT-000009", "PROC-000009", f"procedure_outcomes/{F1}/early.csv")]


def test_the_database_refuses_a_write_the_check_could_not_see(two_facilities) -> None:
    # GIVEN FAC-002's rows, and writes of them that bypass the ingest's check (as a concurrent
    # load whose check ran before FAC-002's rows were committed would)
    f1_robots, f1_outcomes = f"surgical_robots/{F1}/r.csv", f"procedure_outcomes/{F1}/o.csv"
    attempts = [
        # FAC-002's robot and outcome taken over: relabelled FAC-001, re-pointed at FAC-001's procedure
        ("UPDATE surgical_robots SET facility_id = 'FAC-001', src_key = %s WHERE robot_id = 'ROBOT-0002'", f1_robots),
        ("UPDATE procedure_outcomes SET procedure_id = 'PROC-000001', src_key = %s WHERE outcome_id = 'OUT-000002'",
         f"procedure_outcomes/{F1}/o.csv"),
        # rows naming FAC-002 or its robot/procedure
        ("UPDATE surgical_robots SET status = 'retired', src_key = %s WHERE robot_id = 'ROBOT-0002'", f1_robots),
        ("UPDATE procedure_outcomes SET src_key = %s WHERE outcome_id = 'OUT-000002'", f1_outcomes),
        ("INSERT INTO procedure_outcomes SELECT 'OUT-000009', procedure_id, success, complication_occurred,"
         " complication_severity, blood_loss_ml, length_of_stay_days, readmitted_30d, conversion_to_open,"
         " recorded_at, %s, now(), now() FROM procedure_outcomes WHERE outcome_id = 'OUT-000002'", f1_outcomes),
        ("INSERT INTO robot_maintenance_logs SELECT 'MAINT-000009', 'ROBOT-0002', maintenance_type, started_at,"
         " completed_at, technician_id, downtime_hours, parts_replaced, cost_usd, failure_mode, %s, now(), now()"
         " FROM robot_maintenance_logs WHERE maintenance_id = 'MAINT-000002'", f"robot_maintenance_logs/{F1}/m.csv"),
        ("INSERT INTO surgical_robots SELECT 'ROBOT-0009', serial_number, model, manufacturer, 'FAC-002',"
         " facility_name, install_date, firmware_version, status, %s, now(), now() FROM surgical_robots"
         " WHERE robot_id = 'ROBOT-0001'", f1_robots),
    ]
    with psycopg.connect(two_facilities.db_url, autocommit=True) as conn:
        for statement, src_key in attempts:
            # WHEN FAC-001's object writes them THEN the statement fails, with no row content in
            # the message, and nothing changes
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
                conn.execute(statement, (src_key,))
            assert "FAC-002" not in str(refused.value) and "ROBOT" not in str(refused.value)
        assert conn.execute("SELECT robot_id, status, src_key FROM surgical_robots ORDER BY 1").fetchall() == [
            ("ROBOT-0001", "active", "surgical_robots/fleet.csv"), ("ROBOT-0002", "active", "surgical_robots/fleet.csv")]
        assert conn.execute("SELECT count(*) FROM robot_maintenance_logs").fetchall() == [(1,)]
        assert conn.execute("SELECT outcome_id, procedure_id, src_key FROM procedure_outcomes").fetchall() == [
            ("OUT-000002", "PROC-000002", "procedure_outcomes/o.csv")]
        # AND a producer's write of its own rows passes, and a trusted key is never checked
        assert conn.execute("UPDATE surgical_robots SET status = 'retired', src_key = %s WHERE robot_id = 'ROBOT-0001'",
                            (f1_robots,)).rowcount == 1
        assert conn.execute("UPDATE surgical_robots SET status = 'retired', src_key = 'surgical_robots/fix.csv'"
                            " WHERE robot_id = 'ROBOT-0002'").rowcount == 1


def test_a_malformed_facility_segment_rejects_the_object_and_trusted_subfolders_still_load(lake) -> None:
    # GIVEN a key whose facility= segment names no facility, and a trusted key in a subfolder
    ingest(lake, {
        "surgical_robots/facility=FAC-1/r.csv": csv_file(ROBOT_HEADER, [robot(1)]),
        "surgical_robots/2026/03/r.csv": csv_file(ROBOT_HEADER, [robot(2, facility="FAC-002")]),
    })
    # THEN the first is rejected as a whole with its reason; the second loads (any facility)
    ledger = {r["object_key"]: (r["status"], r["error"]) for r in lake.ledger()}
    assert ledger == {"surgical_robots/facility=FAC-1/r.csv": ("rejected", OBJECT_REASON),
                      "surgical_robots/2026/03/r.csv": ("loaded", None)}
    assert lake.query("SELECT robot_id, facility_id FROM surgical_robots") == [("ROBOT-0002", "FAC-002")]

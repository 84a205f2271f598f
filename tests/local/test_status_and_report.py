"""`lake status` and the run report show what issue 11 made visible: whole-object reasons, stale
attempts, unknown column names, refused parked rows, omitted quarantine rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg

from local.commands import cmd_status
from local.report.ledger_reader import LedgerEntry
from local.report.run_report import UploadedObject, object_outcomes, quarantine_stats
from local.workdir import Workdir


def _ledger_row(conn, key: str, status: str, **extra) -> None:
    values = {"object_key": key, "content_checksum": f"etag:{key}", "entity": key.split("/")[0],
              "status": status, "attempts": 1, **extra}
    cols = ", ".join(values)
    conn.execute(f"INSERT INTO etl.ingest_ledger ({cols}) VALUES ({', '.join(['%s'] * len(values))})",
                 list(values.values()))


def test_status_shows_rejections_stale_attempts_unknown_columns_and_refused_parked_rows(
        migrated_db, tmp_path, monkeypatch, capsys):
    # GIVEN a ledger with a too_large object, unknown columns on two objects, an attempt that died an
    # hour ago, a fresh one, and a parked row the table refused
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    with psycopg.connect(migrated_db) as conn:
        _ledger_row(conn, "procedure_telemetry/big.ndjson", "rejected", error="too_large")
        _ledger_row(conn, "robot_maintenance_logs/a.csv", "loaded", unknown_columns=["Ward", "Bed"],
                    finished_at=datetime(2026, 1, 2, tzinfo=UTC))
        _ledger_row(conn, "robot_maintenance_logs/b.csv", "loaded", unknown_columns=["Ward"],
                    finished_at=datetime(2026, 1, 3, tzinfo=UTC))
        _ledger_row(conn, "surgical_procedures/died.csv", "processing", attempts=3,
                    started_at=datetime(2026, 1, 1, tzinfo=UTC))
        _ledger_row(conn, "surgical_procedures/running.csv", "processing", started_at=datetime.now(UTC))
        conn.execute("INSERT INTO etl.parked_rejects (entity, row_key, parent_entity, parent_key, row_data, src_key,"
                     " src_modified, parked_at, reason, detail, rejected_by) VALUES ('surgical_procedures',"
                     " 'PROC-000002', 'surgical_robots', 'ROBOT-0001', '{}', 'k', now(), now(), 'out_of_range',"
                     " 'surgical_procedures_patient_birth_year_check', 'surgical_robots/r.csv')")
    # WHEN `lake status` runs
    assert cmd_status(Workdir.at(tmp_path / "work")) == 0
    out = capsys.readouterr().out
    # THEN each appears, and only the attempt older than the function timeout is stale
    lines = out.splitlines()

    def row_of(*cells: str) -> list[str]:
        return [line.split() for line in lines if all(c in line.split() for c in cells)]

    assert row_of("too_large", "1")
    assert "stale: `processing` for longer than the function timeout (300 s)" in out
    assert row_of("surgical_procedures/died.csv", "surgical_procedures", "3")
    assert "surgical_procedures/running.csv" not in out
    assert row_of("robot_maintenance_logs", "Ward", "2") and row_of("robot_maintenance_logs", "Bed", "1")
    assert row_of("surgical_procedures", "out_of_range", "1")


def test_run_report_objects_carry_unknown_columns_and_the_rejection_reason():
    when = datetime(2025, 1, 1, tzinfo=UTC)
    after = [
        LedgerEntry("surgical_robots/a.csv", "etag:aa", "surgical_robots", "loaded", 2, 2, 0, 0, 0, None, when,
                    when, when, 1, None, ("Notes",)),
        LedgerEntry("surgical_robots/b.csv", "etag:bb", "surgical_robots", "rejected", 0, 0, 0, 0, 0,
                    "duplicate_columns", when, when, when, 1, "robot_id", ()),
    ]
    rows = {r["key"]: r for r in object_outcomes(
        [UploadedObject("surgical_robots/a.csv", "aa"), UploadedObject("surgical_robots/b.csv", "bb")], [], after)}
    assert (rows["surgical_robots/a.csv"]["unknown_columns"], rows["surgical_robots/a.csv"]["reason"]) == (
        ["Notes"], None)
    assert (rows["surgical_robots/b.csv"]["reason"], rows["surgical_robots/b.csv"]["unknown_columns"]) == (
        "duplicate_columns", [])


def test_quarantine_stats_count_the_rows_a_capped_file_only_counted(tmp_path):
    # GIVEN a reject file with two itemized rows and a last line standing for 40 more
    path = tmp_path / "procedure_outcomes" / "x.csv.rejects.ndjson"
    path.parent.mkdir()
    lines = [{"source_key": "x", "line": 2, "reasons": ["out_of_range"], "row": {}},
             {"source_key": "x", "line": 3, "reasons": ["out_of_range", "bad_enum"], "row": {}},
             {"source_key": "x", "line": None, "reasons": ["bad_enum", "out_of_range"], "row": None,
              "omitted_rows": 40, "omitted_reasons": {"out_of_range": 40, "bad_enum": 5}}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    # WHEN counted THEN 42 rows and the reasons of all of them
    stats = quarantine_stats(tmp_path)
    assert stats.rows == 42 and stats.reasons == {"out_of_range": 42, "bad_enum": 6}

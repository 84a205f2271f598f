"""The local analytics engine exposes the names Redshift and Athena use, from any source."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from lake.contract import LAKE_TABLES
from lake.detection import DetectionSettings
from local.analytics.duckdb_engine import (
    REDSHIFT_DIR,
    EngineError,
    open_engine,
    redshift_views,
    run_athena_query,
    run_query,
    transpile,
)
from tests.sql.lake_fixture import write_lake

UTC = dt.UTC
PLACEHOLDERS = {"GLUE_DATABASE", "SPECTRUM_ROLE_ARN", "RDS_HOST", "RDS_PORT", "RDS_DATABASE", "RDS_SECRET_ARN"}


def _robot_row(robot_id: str) -> dict:
    return {"robot_id": robot_id, "serial_number": "SN-000001", "model": "M", "manufacturer": "A",
            "facility_id": "FAC-001", "facility_name": "F", "install_date": dt.date(2023, 1, 1),
            "firmware_version": "1.0.0", "status": "active", "src_key": "k",
            "src_modified": dt.datetime(2024, 1, 1, tzinfo=UTC)}


def test_postgres_tables_visible_unqualified_and_under_federated_names(migrated_db: str) -> None:
    # GIVEN a robot and a ledger row in PostgreSQL
    with psycopg.connect(migrated_db) as conn:
        row = _robot_row("ROBOT-0007")
        conn.execute(f"INSERT INTO surgical_robots ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                     list(row.values()))
        conn.execute("INSERT INTO etl.ingest_ledger (object_key, content_checksum, status) VALUES ('k', 'c', 'failed')")
    # WHEN the engine opens on it
    con = open_engine(migrated_db, None)
    # THEN the same row is visible unqualified and under rds., the ledger under rds_etl.
    assert run_query(con, "SELECT robot_id FROM surgical_robots").to_pylist() == [{"robot_id": "ROBOT-0007"}]
    assert run_query(con, "SELECT robot_id, install_date FROM rds.surgical_robots").to_pylist() == [
        {"robot_id": "ROBOT-0007", "install_date": dt.date(2023, 1, 1)}]
    assert run_query(con, "SELECT status FROM rds_etl.ingest_ledger").to_pylist() == [{"status": "failed"}]
    assert run_query(con, "SELECT count(*) AS n FROM rds_etl.parked_rows").to_pylist() == [{"n": 0}]


def test_arrow_tables_and_a_pyarrow_filesystem(tmp_path: Path) -> None:
    # GIVEN RDS rows as Arrow (no PostgreSQL) and the lake behind a pyarrow filesystem
    robots = pa.Table.from_pylist([_robot_row("ROBOT-0001"), _robot_row("ROBOT-0002")])
    hour = dt.datetime(2024, 3, 1, 10, tzinfo=UTC)
    write_lake(tmp_path, "telemetry_hourly", [{"robot_id": "ROBOT-0001", "hour": hour, "date": "2024-03-01",
                                               "arm_id": 1, "sample_count": 7}])
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    # WHEN the engine opens
    con = open_engine(None, "", rds_tables={"surgical_robots": robots}, filesystem=fs)
    # THEN both are queryable; an absent lake table is empty with the contract's columns
    assert run_query(con, "SELECT count(*) AS n FROM rds.surgical_robots").to_pylist() == [{"n": 2}]
    assert run_query(con, "SELECT robot_id, hour, sample_count, \"date\" FROM lake.telemetry_hourly").to_pylist() == [
        {"robot_id": "ROBOT-0001", "hour": hour, "sample_count": 7, "date": "2024-03-01"}]
    empty = run_query(con, "SELECT * FROM lake.telemetry_anomalies")
    assert empty.num_rows == 0
    assert empty.column_names == [c.name for c in LAKE_TABLES["telemetry_anomalies"].columns] + ["date"]


def test_local_folder_partitions_are_strings_as_in_glue(tmp_path: Path) -> None:
    write_lake(tmp_path, "procedure_telemetry", [{
        "telemetry_id": "00000000-0000-4000-8000-000000000001", "procedure_id": "PROC-000001",
        "robot_id": "ROBOT-0001", "timestamp": dt.datetime(2024, 3, 1, tzinfo=UTC), "date": "2024-03-01",
        "arm_id": 1}])
    con = open_engine(None, tmp_path)
    types = run_query(con, "SELECT typeof(\"date\") AS d, typeof(robot_id) AS r FROM lake.procedure_telemetry")
    assert types.to_pylist() == [{"d": "VARCHAR", "r": "VARCHAR"}]


def test_redshift_and_athena_dialects_are_transpiled() -> None:
    con = open_engine(None, None)
    assert run_query(con, "SELECT NVL(NULL, 2) AS v, DATEDIFF(day, '2024-01-01'::date, '2024-01-31'::date) AS d",
                     dialect="redshift").to_pylist() == [{"v": 2, "d": 30}]
    assert run_query(con, "SELECT date_format(date '2024-03-01', '%Y/%m') AS m",
                     dialect="athena").to_pylist() == [{"m": "2024/03"}]


def test_external_schema_files_carry_deploy_placeholders_and_are_emulated() -> None:
    external = [p for p in sorted(REDSHIFT_DIR.glob("*.sql")) if "EXTERNAL SCHEMA" in p.read_text()]
    found = set().union(*(re.findall(r"\{\{([A-Z_]+)\}\}", p.read_text()) for p in external))
    assert found == PLACEHOLDERS
    assert not {p.stem for p in external} & {f.path.stem for f in redshift_views()}
    for f in redshift_views():
        text = f.path.read_text()
        assert text.startswith("--"), f"{f.path.name} must start with the question it answers"
        if f.kind == "view" and f.name != "as_of":  # as_of reads no table: a plain view, nothing to bind late
            assert "WITH NO SCHEMA BINDING" in text


def test_view_placeholders_come_from_the_detection_settings(tmp_path) -> None:
    # GIVEN a view file with a placeholder WHEN rendered with settings THEN their value is in the SQL
    (tmp_path / "30_v_x.sql").write_text("-- Which?\nCREATE OR REPLACE VIEW analytics.v_x AS\n"
                                         "SELECT {{INACTIVITY_HOURS}} AS h WITH NO SCHEMA BINDING;\n")
    (view,) = redshift_views(tmp_path, DetectionSettings(inactivity_hours=72).sql_placeholders())
    assert "72 AS h" in view.duckdb_sql
    # AND a placeholder the settings do not provide is an error, not a blank
    (tmp_path / "31_v_y.sql").write_text("-- Why?\nCREATE OR REPLACE VIEW analytics.v_y AS SELECT {{NOPE}} AS n;\n")
    with pytest.raises(EngineError, match="NOPE"):
        redshift_views(tmp_path)


def test_errors_are_engine_errors() -> None:
    con = open_engine(None, None)
    with pytest.raises(EngineError, match="query failed"):
        run_query(con, "SELECT * FROM lake.no_such_table")
    with pytest.raises(EngineError, match="no Athena named query"):
        run_athena_query(con, "q_nope")
    with pytest.raises(EngineError, match="expected one statement"):
        transpile("SELECT 1; SELECT 2", "redshift")


def test_postgres_arrays_arrive_as_lists(migrated_db: str) -> None:
    # GIVEN an ingest bookkeeping row with a text[] column (etl.lake_files, migration 010)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "INSERT INTO etl.lake_files (path, object_key, content_checksum, src_modified, partition_values,"
            " row_count) VALUES ('p', 'k', 'c', now(), ARRAY['2024-01-02', 'ROBOT-0001'], 3)"
        )
    # WHEN the engine copies it THEN the array is a list, not its text form
    con = open_engine(migrated_db, None)
    assert run_query(con, "SELECT partition_values, row_count FROM rds_etl.lake_files").to_pylist() == [
        {"partition_values": ["2024-01-02", "ROBOT-0001"], "row_count": 3}]


def test_integer_sums_are_bigints_as_in_redshift() -> None:
    # GIVEN DuckDB, which sums INTEGER columns into HUGEINT WHEN summing THEN the result is int64
    con = open_engine(None, None)
    table = run_query(con, "SELECT SUM(x) AS s FROM (VALUES (1::INTEGER), (2::INTEGER)) t(x)")
    assert table.schema.field("s").type == pa.int64()
    assert table.to_pylist() == [{"s": 3}]


def test_reading_the_migrations_prints_no_parser_warnings(caplog):
    # GIVEN the RDS migrations (GRANTs and trigger functions that sqlglot keeps as commands)
    from local.analytics.duckdb_engine import _migration_tables

    # WHEN the engine reads their tables' columns, with warnings captured
    with caplog.at_level(logging.WARNING):
        tables = _migration_tables()
    # THEN every table is found and nothing reaches the user's terminal (`lake demo` printed these)
    assert {"surgical_robots", "etl.ingest_ledger"} <= set(tables)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("sqlglot")] == []
    assert logging.getLogger("sqlglot").level == logging.NOTSET

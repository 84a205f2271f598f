"""The RDS migrations apply cleanly, are idempotent and agree with the data contract."""

from __future__ import annotations

import math
import re
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lake.contract import (
    ENTITIES,
    LINEAGE_COLUMNS,
    LOAD_ORDER,
    POSTGRES_TYPES,
    RESTRICTED_ZIP3,
    Column,
    DType,
    Landing,
    LedgerStatus,
)
from lambdas.migrate.migrations import MigrationError, apply_migrations, migration_files

RDS_ENTITIES = [e for e in ENTITIES.values() if e.landing is Landing.RDS]


def test_second_run_is_a_no_op(empty_db: str) -> None:
    # GIVEN an empty database WHEN migrations run twice
    with psycopg.connect(empty_db) as conn:
        first = apply_migrations(conn)
        second = apply_migrations(conn)
    # THEN every file applied once, the second run applied nothing
    assert first == [p.name for p in migration_files()]
    assert second == []


def test_edited_migration_is_refused(empty_db: str, tmp_path) -> None:
    sql_dir = tmp_path / "rds"
    sql_dir.mkdir()
    (sql_dir / "001_one.sql").write_text("CREATE TABLE one (id int);")
    with psycopg.connect(empty_db) as conn:
        assert apply_migrations(conn, sql_dir) == ["001_one.sql"]
        (sql_dir / "001_one.sql").write_text("CREATE TABLE one (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            apply_migrations(conn, sql_dir)


@pytest.mark.parametrize("entity", RDS_ENTITIES, ids=lambda e: e.name)
def test_columns_types_and_nullability_match_contract(migrated_db: str, entity) -> None:
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s ORDER BY column_name",
            (entity.name,),
        ).fetchall()
    # By name: ALTER TABLE ... ADD COLUMN appends (050), and every statement names its columns.
    expected = sorted(
        (c.name, POSTGRES_TYPES[c.dtype], c.nullable)
        for c in (*entity.stored_columns(), *LINEAGE_COLUMNS)
    )
    assert rows == expected


@pytest.mark.parametrize("entity", RDS_ENTITIES, ids=lambda e: e.name)
def test_keys_match_contract(migrated_db: str, entity) -> None:
    with psycopg.connect(migrated_db) as conn:
        pk = conn.execute(
            "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
            " WHERE c.conrelid = %s::regclass AND c.contype = 'p'",
            (entity.name,),
        ).fetchall()
        fks = conn.execute(
            "SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
            " WHERE c.conrelid = %s::regclass AND c.contype = 'f'",
            (entity.name,),
        ).fetchall()
    assert pk == [(entity.primary_key,)]
    assert sorted(fks) == sorted((fk.column, fk.parent) for fk in entity.foreign_keys)


@pytest.mark.parametrize("entity", RDS_ENTITIES, ids=lambda e: e.name)
def test_every_contract_rule_has_a_check(migrated_db: str, entity) -> None:
    """Each enum, pattern and range column is covered by a CHECK constraint on that column."""
    with psycopg.connect(migrated_db) as conn:
        checked = {
            name
            for (name,) in conn.execute(
                "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a"
                " ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
                " WHERE c.conrelid = %s::regclass AND c.contype = 'c'",
                (entity.name,),
            ).fetchall()
        }
    ruled = {
        c.name
        for c in entity.stored_columns()
        if c.enum or c.pattern or c.min is not None or c.max is not None
    }
    ruled |= {name for rc in entity.row_checks for name in (rc.left, rc.right)}
    assert ruled - checked == set()


_BOUND = r"(?:\(|\b)(-?\d+(?:\.\d+)?)\)?"


@pytest.mark.parametrize("entity", RDS_ENTITIES, ids=lambda e: e.name)
def test_every_check_of_the_table_is_a_contract_rule(migrated_db: str, entity) -> None:
    """The other direction: each CHECK the database enforces is the contract's rule for that
    column (same range, same values) or one of its row checks, so the validator, which applies
    the contract's rules to the stored columns before staging, has already enforced it."""
    with psycopg.connect(migrated_db) as conn:
        checks = conn.execute(
            "SELECT c.conname, pg_get_constraintdef(c.oid), array_agg(a.attname::text ORDER BY a.attname)"
            " FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
            " WHERE c.conrelid = %s::regclass AND c.contype = 'c' GROUP BY c.conname, c.oid",
            (entity.name,),
        ).fetchall()
    stored = {c.name: c for c in entity.stored_columns()}
    row_checks = {rc.name: rc for rc in entity.row_checks}
    assert checks
    for name, definition, columns in checks:
        if name in row_checks:
            rule = row_checks[name]
            assert (columns, definition) == (sorted([rule.left, rule.right]),
                                             f"CHECK (({rule.left} >= {rule.right}))"), name
            continue
        if name == "patient_age_generalized":  # Safe Harbor: no age once the 90+ flag is set
            assert columns == ["patient_age_90_plus", "patient_age_at_procedure"], name
            continue
        if name == "patient_zip3_not_restricted":  # Safe Harbor: restricted prefixes become 000
            assert set(re.findall(r"'([^']*)'::text", definition)) == RESTRICTED_ZIP3, name
            continue
        [column] = columns
        col = stored[column]
        if "ARRAY[" in definition:
            assert set(re.findall(r"'([^']*)'::text", definition)) == set(col.enum or ()), name
        elif " ~ " in definition:
            assert col.pattern, name
        else:
            low = re.search(r">= " + _BOUND, definition)
            high = re.search(r"<= " + _BOUND, definition)
            assert low and high, definition
            assert (float(low.group(1)), float(high.group(1))) == (col.min, col.max), name


def _migrations_before(number: str, tmp_path) -> Path:
    """A copy of the migrations numbered below `number`: the schema of an earlier deploy."""
    before = tmp_path / "rds"
    before.mkdir()
    for path in migration_files():
        if path.name < number:
            (before / path.name).write_text(path.read_text())
    return before


def test_030_upgrades_a_database_that_already_holds_rows(empty_db: str, tmp_path) -> None:
    # GIVEN a database migrated up to 020 (before 030 existed) that already holds a procedure
    with psycopg.connect(empty_db) as conn:
        apply_migrations(conn, _migrations_before("030", tmp_path))
        conn.execute("INSERT INTO surgical_robots VALUES ('ROBOT-0001', 'SN-000001', 'm', 'x', 'FAC-001',"
                     " 'f', '2020-01-01', '1.2.3', 'active', 'k', now(), now())")
        conn.execute("INSERT INTO surgical_procedures (procedure_id, robot_id, facility_id, surgeon_id, patient_key,"
                     " patient_age_90_plus, procedure_type, procedure_category, complexity, is_emergency,"
                     " scheduled_start, status, src_key, src_modified) VALUES ('PROC-000001', 'ROBOT-0001',"
                     " 'FAC-001', 'SURG-0001', repeat('a', 64), false, 't', 'c', 'low', false, now(), 'completed',"
                     " 'k', now())")
        conn.commit()
        # WHEN the remaining migrations run (the deploy after this change)
        applied = apply_migrations(conn)
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'surgical_procedures'").fetchall()}
        rows = conn.execute("SELECT count(*) FROM surgical_procedures").fetchone()
    # THEN 030 applied over the existing row, and the table has exactly the indexes it keeps
    assert "030_cheaper_load_guards.sql" in applied and rows == (1,)
    assert indexes == {"surgical_procedures_pkey", "surgical_procedures_robot_start_idx",
                       "surgical_procedures_patient_key_idx"}


def test_enum_check_rejects_value_outside_contract(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO surgical_robots VALUES ('ROBOT-0001', 'SN-000001', 'm', 'x', 'FAC-001',"
            " 'f', '2020-01-01', '1.2.3', 'exploded', 'k', now(), now())"
        )


PATTERN_COLUMNS = [(e.name, c.name, c.pattern) for e in RDS_ENTITIES for c in e.stored_columns() if c.pattern]
ZIP3_COLUMN = ENTITIES["surgical_procedures"].column("patient_zip").stored_name


@st.composite
def _near_misses(draw: st.DrawFn, pattern: str) -> str:
    """A string matching the pattern with one character inserted, deleted or replaced."""
    value = draw(st.from_regex(pattern, fullmatch=True))
    at = draw(st.integers(0, len(value)))
    char = draw(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))
    edit = draw(st.sampled_from(("insert", "delete", "replace")))
    if edit == "insert":
        return value[:at] + char + value[at:]
    if edit == "delete":
        return value[:at] + value[at + 1:]
    return value[:at] + char + value[at + 1:]


@pytest.mark.parametrize(("table", "column", "pattern"), PATTERN_COLUMNS, ids=lambda v: str(v)[:24])
def test_pattern_checks_accept_exactly_the_contract_pattern(migrated_db: str, table: str, column: str,
                                                            pattern: str) -> None:
    """030 rewrote the pattern CHECKs for speed; each must still accept exactly the contract's
    pattern: matching strings, near misses (one edit away) and arbitrary text."""
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        exprs = [row[0] for row in conn.execute(
            "SELECT pg_get_expr(c.conbin, c.conrelid) FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
            " WHERE c.conrelid = %s::regclass AND c.contype = 'c' AND a.attname = %s"
            " AND cardinality(c.conkey) = 1", (table, column)).fetchall()]
        query = "SELECT {} FROM (SELECT %s::text AS {}) AS t".format(  # noqa: UP032 - identifiers from the catalog
            " AND ".join(f"({e})" for e in exprs), column)
        assert exprs, f"{table}.{column} has no CHECK"

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.one_of(st.from_regex(pattern, fullmatch=True), _near_misses(pattern),
                         st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                                 max_size=70)))
        def agrees(value: str) -> None:
            (accepted,) = conn.execute(query, (value,)).fetchone() or (None,)
            # 050: the stored ZIP3 also refuses the Safe Harbor restricted prefixes (stored as 000)
            restricted = column == ZIP3_COLUMN and value in RESTRICTED_ZIP3
            assert accepted is (re.fullmatch(pattern, value) is not None and not restricted), value

        agrees()


def test_analytics_indexes_exist_and_serve_the_failure_lookup(migrated_db: str) -> None:
    # GIVEN the migrations (020 adds the indexes the analytics views read through)
    with psycopg.connect(migrated_db) as conn:
        names = {
            (schema, name)
            for schema, name in conn.execute("SELECT schemaname, indexname FROM pg_indexes").fetchall()
        }
        # WHEN the planner is asked for one robot's failures with sequential scans discouraged
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT started_at FROM robot_maintenance_logs WHERE robot_id = 'ROBOT-0001'"
                " AND maintenance_type IN ('unscheduled', 'emergency') ORDER BY started_at"
            ).fetchall()
        )
    # THEN every index is there and the partial failure index serves the lookup
    assert {
        ("public", "robot_maintenance_logs_failures_idx"),
        ("etl", "parked_rows_entity_parked_idx"),
        ("etl", "ingest_ledger_entity_first_seen_idx"),
    } <= names
    assert "robot_maintenance_logs_failures_idx" in plan


def test_a_failing_migration_reports_no_row_values(empty_db: str, tmp_path) -> None:
    # GIVEN a table holding a duplicated key and a migration adding a unique index over it
    sql_dir = tmp_path / "rds"
    sql_dir.mkdir()
    (sql_dir / "001_t.sql").write_text("CREATE TABLE t (k text);"
                                       " INSERT INTO t VALUES ('pk-31415926'), ('pk-31415926');")
    (sql_dir / "002_check.sql").write_text("CREATE UNIQUE INDEX t_k ON t (k);")
    # WHEN it runs THEN the error names the file and the index, never the row (it reaches
    # CloudFormation's events and the function's log)
    with psycopg.connect(empty_db) as conn, pytest.raises(MigrationError) as raised:
        apply_migrations(conn, sql_dir)
    message = str(raised.value)
    assert message == '002_check.sql failed: [23505] could not create unique index "t_k"'
    assert "31415926" not in message and "DETAIL" not in message


# One valid stored row per table, written by hand (src_key is a trusted key: no facility= segment).
_TS = "2025-01-06 09:00:00+00"
_VALID_ROWS: dict[str, dict[str, object]] = {
    "surgical_robots": {
        "robot_id": "ROBOT-0001", "serial_number": "SN-000001", "model": "m", "manufacturer": "x",
        "facility_id": "FAC-001", "facility_name": "f", "install_date": "2020-01-01",
        "firmware_version": "1.2.3", "status": "active"},
    "surgical_procedures": {
        "procedure_id": "PROC-000001", "robot_id": "ROBOT-0001", "facility_id": "FAC-001",
        "surgeon_id": "SURG-0001", "patient_key": "a" * 64, "patient_age_at_procedure": 40,
        "patient_age_90_plus": False, "patient_zip3": "100", "procedure_type": "p", "procedure_category": "c",
        "complexity": "low", "is_emergency": False, "scheduled_start": _TS, "actual_start": _TS,
        "actual_end": "2025-01-06 10:00:00+00", "status": "completed"},
    "procedure_outcomes": {
        "outcome_id": "OUT-000001", "procedure_id": "PROC-000001", "success": True,
        "complication_occurred": False, "complication_severity": "none", "blood_loss_ml": 100.0,
        "length_of_stay_days": 2.0, "readmitted_30d": False, "conversion_to_open": False, "recorded_at": _TS},
    "robot_maintenance_logs": {
        "maintenance_id": "MAINT-000001", "robot_id": "ROBOT-0001", "maintenance_type": "scheduled",
        "started_at": _TS, "completed_at": "2025-01-06 11:00:00+00", "technician_id": "TECH-0001",
        "downtime_hours": 2.0, "parts_replaced": None, "cost_usd": 10.0, "failure_mode": None},
}


def _accepts(conn: psycopg.Connection, table: str, column: str, value: object) -> bool:
    """Whether the table takes `value` in `column` of its one row (tried in a savepoint)."""
    try:
        with conn.transaction():
            conn.execute(f'UPDATE "{table}" SET "{column}" = %s', (value,))  # identifiers from the contract
        return True
    except psycopg.errors.CheckViolation:
        return False


def _below(col: Column, bound: float) -> float:
    return bound - 1 if col.dtype is DType.INT else math.nextafter(bound, -math.inf)


def _above(col: Column, bound: float) -> float:
    return bound + 1 if col.dtype is DType.INT else math.nextafter(bound, math.inf)


def test_tables_take_every_enum_value_and_range_bound_of_the_contract_and_refuse_the_neighbours(
        migrated_db: str) -> None:
    """Adding an enum value or widening a range in the contract without a migration fails here
    (the validator would pass rows the table refuses: retries and dead letters)."""
    assert set(_VALID_ROWS) == {e.name for e in RDS_ENTITIES}
    with psycopg.connect(migrated_db) as conn:
        # GIVEN one valid row in each table, parents first
        for name in LOAD_ORDER:
            row = {**_VALID_ROWS[name], "src_key": "k/x.csv", "src_modified": _TS, "loaded_at": _TS}
            assert set(row) == {c.name for c in (*ENTITIES[name].stored_columns(), *LINEAGE_COLUMNS)}, name
            conn.execute(f'INSERT INTO "{name}" ({", ".join(row)}) VALUES ({", ".join(["%s"] * len(row))})',
                         list(row.values()))
        tried = 0
        for entity in RDS_ENTITIES:
            for col in entity.stored_columns():
                # WHEN each value the contract allows is written THEN the table takes it
                for value in col.enum or ():
                    assert _accepts(conn, entity.name, col.name, value), f"{entity.name}.{col.name} = {value!r}"
                    assert not _accepts(conn, entity.name, col.name, value + "_x"), f"{entity.name}.{col.name}"
                    tried += 1
                # AND each range bound is taken, its nearest outside neighbour refused
                if col.min is not None:
                    assert _accepts(conn, entity.name, col.name, col.min), f"{entity.name}.{col.name} min"
                    assert not _accepts(conn, entity.name, col.name, _below(col, col.min)), f"{col.name} < min"
                    tried += 1
                if col.max is not None:
                    assert _accepts(conn, entity.name, col.name, col.max), f"{entity.name}.{col.name} max"
                    assert not _accepts(conn, entity.name, col.name, _above(col, col.max)), f"{col.name} > max"
                    tried += 1
    # enum values: robot status 3, complexity 3, procedure status 3, severity 4, maintenance type 4;
    # ranges: age 0..89, blood loss, length of stay, downtime, cost (2 bounds each)
    assert tried == 17 + 2 * 5


def test_ledger_status_check_lists_exactly_the_contract_statuses(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        (definition,) = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'etl.ingest_ledger'::regclass AND conname = 'ingest_ledger_status_check'"
        ).fetchone() or (None,)
        # THEN the CHECK names the contract's statuses, no more, no fewer
        assert definition is not None
        assert set(re.findall(r"'([^']*)'::text", definition)) == {s.value for s in LedgerStatus}
        # AND a row in each status is taken (zero counts add up), any other status refused
        for n, status in enumerate(LedgerStatus):
            conn.execute("INSERT INTO etl.ingest_ledger (object_key, content_checksum, status)"
                         " VALUES (%s, 'c', %s)", (f"k/{n}.csv", status.value))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO etl.ingest_ledger (object_key, content_checksum, status)"
                         " VALUES ('k/x.csv', 'c', 'done')")


def test_090_turns_the_old_superseded_rows_into_their_own_status(empty_db: str, tmp_path) -> None:
    # GIVEN a ledger migrated up to 080 holding an older telemetry version recorded the old way
    with psycopg.connect(empty_db) as conn:
        apply_migrations(conn, _migrations_before("090", tmp_path))
        conn.execute("INSERT INTO etl.ingest_ledger (object_key, content_checksum, status, rows_in, rows_loaded,"
                     " error) VALUES ('procedure_telemetry/t.ndjson', 'c1', 'loaded', 5, 5, 'superseded'),"
                     " ('procedure_telemetry/t.ndjson', 'c2', 'loaded', 3, 3, NULL)")
        conn.commit()
        # WHEN 090 applies
        assert apply_migrations(conn) == ["090_ledger_superseded_status.sql"]
        rows = conn.execute("SELECT content_checksum, status, rows_in, rows_loaded, error FROM etl.ingest_ledger"
                            " ORDER BY 1").fetchall()
    # THEN the superseded version has its own status and counts nothing; the other is untouched
    assert rows == [("c1", "superseded", 0, 0, None), ("c2", "loaded", 3, 3, None)]

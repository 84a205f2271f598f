"""050: rows stored before it lose their birth year and restricted ZIP3s, per patient and for good."""

from __future__ import annotations

import psycopg
import pytest

from lambdas.migrate.migrations import apply_migrations, migration_files

_PROC = ("INSERT INTO surgical_procedures (procedure_id, robot_id, facility_id, surgeon_id, patient_key,"
         " patient_birth_year, patient_age_90_plus, patient_zip3, procedure_type, procedure_category, complexity,"
         " is_emergency, scheduled_start, status, src_key, src_modified)"
         " VALUES (%s, 'ROBOT-0001', 'FAC-001', 'SURG-0001', %s, %s, %s, %s, 't', 'c', 'low', false, %s,"
         " 'completed', 'k', now())")
OLD, YOUNG = "a" * 64, "b" * 64


def _before_050(empty_db: str, tmp_path) -> psycopg.Connection:
    before = tmp_path / "rds"
    before.mkdir()
    for path in migration_files():
        if path.name < "050":
            (before / path.name).write_text(path.read_text())
    conn = psycopg.connect(empty_db)
    apply_migrations(conn, before)
    return conn


def test_050_turns_birth_years_into_stable_ages_and_restricted_zip3s_into_000(empty_db: str, tmp_path) -> None:
    # GIVEN rows stored by the old per-row rule: one patient born in 1935 with a birth year on the
    # 2024 row and the 90+ flag on the 2026 row; a patient born 1960; a ZIP3 of 036 and one of 021
    with _before_050(empty_db, tmp_path) as conn:
        conn.execute("INSERT INTO surgical_robots VALUES ('ROBOT-0001', 'SN-000001', 'm', 'x', 'FAC-001',"
                     " 'f', '2020-01-01', '1.2.3', 'active', 'k', now(), now())")
        conn.execute(_PROC, ("PROC-000001", OLD, 1935, False, "036", "2024-06-01T10:00:00Z"))
        conn.execute(_PROC, ("PROC-000002", OLD, None, True, "036", "2026-01-10T10:00:00Z"))
        conn.execute(_PROC, ("PROC-000003", YOUNG, 1960, False, "021", "2025-03-01T10:00:00Z"))
        # a year-2025 row of a patient born 1935: 89 or 90, unknown without the date: 90+
        conn.execute(_PROC, ("PROC-000004", OLD, 1935, False, None, "2025-12-31T23:00:00Z"))
        conn.execute(
            "INSERT INTO etl.parked_rows (entity, row_key, parent_entity, parent_key, row_data, src_key,"
            " src_modified) VALUES ('surgical_procedures', 'PROC-000009', 'surgical_robots', 'ROBOT-0002',"
            " %s::jsonb, 'k', now())",
            ('{"procedure_id": "PROC-000009", "patient_birth_year": 1950, "patient_age_90_plus": false,'
             ' "patient_zip3": "893", "scheduled_start": "2024-05-05T08:00:00+00:00"}',))
        conn.commit()
        # WHEN 050 runs
        assert "050_safe_harbor_generalization.sql" in apply_migrations(conn)
        rows = conn.execute("SELECT procedure_id, patient_age_at_procedure, patient_age_90_plus, patient_zip3"
                            " FROM surgical_procedures ORDER BY 1").fetchall()
        (parked,) = conn.execute("SELECT row_data FROM etl.parked_rows").fetchone() or (None,)
        columns = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns"
                                              " WHERE table_name = 'surgical_procedures'").fetchall()}
    # THEN no birth year is left anywhere; ages are the lower bound (2024 - 1935 - 1 = 88, 2025 - 1960 - 1 = 64)
    assert "patient_birth_year" not in columns and "patient_birth_year" not in parked
    assert rows == [("PROC-000001", 88, False, "000"), ("PROC-000002", None, True, "000"),
                    ("PROC-000003", 64, False, "021"), ("PROC-000004", None, True, None)]
    # AND the parked row too: 2024 - 1950 - 1 = 73, ZIP3 893 -> 000
    assert (parked["patient_age_at_procedure"], parked["patient_age_90_plus"], parked["patient_zip3"]) == (
        73, False, "000")


@pytest.mark.parametrize(("age", "flag", "zip3"), [(None, False, "556"), (90, False, "021"), (42, True, "021")],
                         ids=["restricted-zip3", "age-90", "age-with-flag"])
def test_050_checks_refuse_what_safe_harbor_forbids(migrated_db: str, age, flag, zip3) -> None:
    with psycopg.connect(migrated_db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO surgical_robots VALUES ('ROBOT-0001', 'SN-000001', 'm', 'x', 'FAC-001',"
                     " 'f', '2020-01-01', '1.2.3', 'active', 'k', now(), now())")
        conn.execute(
            "INSERT INTO surgical_procedures (procedure_id, robot_id, facility_id, surgeon_id, patient_key,"
            " patient_age_at_procedure, patient_age_90_plus, patient_zip3, procedure_type, procedure_category,"
            " complexity, is_emergency, scheduled_start, status, src_key, src_modified) VALUES ('PROC-000001',"
            " 'ROBOT-0001', 'FAC-001', 'SURG-0001', %s, %s, %s, %s, 't', 'c', 'low', false, now(), 'completed',"
            " 'k', now())", (OLD, age, flag, zip3))

"""Every rule the database enforces is checked before staging, and unparking never aborts a load.

tests/sql/test_rds_migrations.py shows each CHECK of the tables is a contract rule; here a
property test shows the validator enforces them: whatever it accepts, the real tables accept.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from lake.contract import ENTITIES, Column, DType, Entity, Landing
from lambdas.ingest import rds_loader
from lambdas.ingest.pipeline import ValidRows
from lambdas.ingest.quarantine import RejectSink
from lambdas.ingest.routing import Format, Route
from tests.lambdas.ingest.samples import (
    MAINT_HEADER,
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    maintenance,
    procedure,
    robot,
)

RDS_ENTITIES = [e for e in ENTITIES.values() if e.landing is Landing.RDS]
EXTREME_NUMBERS = ["18446744073709551615", "2147483648", "-2147483649", "1e400", "-1e400", "NaN", "1e-400", "-0"]
SPECIAL_DATES = ["2105-03-04", "1899-12-31", "1900-01-01", "2100-12-31", "0000-01-01", "2020-02-30", "9999-12-31"]
SPECIAL_TIMESTAMPS = ["9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00",
                      "1890-01-01T00:00:00Z", "2262-04-12T00:00:00Z"]
_TEXT = st.text(alphabet="abc XYZ-09", max_size=8)


def _valid(col: Column) -> st.SearchStrategy[str]:
    """CSV text of values the column accepts, boundaries included."""
    if col.enum:
        return st.sampled_from(col.enum)
    if col.pattern:
        return st.from_regex(col.pattern, fullmatch=True).filter(lambda v: v.isprintable() and "," not in v)
    if col.dtype is DType.STRING:
        return _TEXT.filter(lambda v: v.strip() != "")
    if col.dtype in (DType.INT, DType.FLOAT):
        low, high = col.min if col.min is not None else -1e6, col.max if col.max is not None else 1e6
        inner = st.integers(int(low), int(high)) if col.dtype is DType.INT else st.floats(low, high)
        return st.one_of(st.sampled_from([low, high]), inner).map(lambda v: str(int(v)) if col.dtype is DType.INT
                                                                 else repr(float(v)))
    if col.dtype is DType.BOOL:
        return st.sampled_from(["true", "false", "1", "no"])
    if col.dtype is DType.DATE:  # birth dates before 1900 or after 2100 are the stored birth year's boundary
        return st.dates(date(1800, 1, 1), date(2200, 12, 31)).map(date.isoformat)
    zones = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))])
    return st.datetimes(datetime(1880, 1, 1), datetime(2300, 1, 1), timezones=zones).map(lambda d: d.isoformat())


def _edge(col: Column) -> st.SearchStrategy[str]:
    """Values at or past the edge of what a column of this type holds."""
    if col.dtype in (DType.INT, DType.FLOAT):
        near = [str(v) for b in (col.min, col.max) if b is not None for v in (b - 1, b + 1)]
        return st.sampled_from(near + EXTREME_NUMBERS)
    if col.dtype is DType.DATE:
        return st.sampled_from(SPECIAL_DATES)
    if col.dtype is DType.TIMESTAMP:
        return st.sampled_from(SPECIAL_TIMESTAMPS)
    return st.sampled_from(["", "!bad!", "other", "x\x00y", "true"])


@st.composite
def _rows(draw: st.DrawFn, entity: Entity) -> list[str]:
    """Rows of valid values, each with up to two columns pushed to (or past) an edge."""
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        values = [draw(_valid(c)) for c in entity.columns]
        for i in draw(st.lists(st.integers(0, len(values) - 1), max_size=2)):
            values[i] = draw(_edge(entity.columns[i]))
        rows.append(",".join(values))
    return rows


def _stage_and_insert(db_url: str, entity: Entity, batches: list) -> None:
    """COPY the accepted rows to staging and insert them into the real table (foreign keys off:
    parking is another test's subject); any refusal raises."""
    with psycopg.connect(db_url) as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL session_replication_role = replica")
        with rds_loader.staging(conn, entity, "property/k.csv", datetime(2025, 1, 1, tzinfo=UTC)) as stager:
            for table in batches:
                stager.write(table)
        cols = sql.SQL(", ").join(map(sql.Identifier, rds_loader.staged_schema(entity).names))
        conn.execute(sql.SQL("INSERT INTO {} ({cols}) SELECT {cols} FROM {}").format(
            sql.Identifier(entity.name), sql.Identifier(rds_loader.STAGE), cols=cols))


@pytest.mark.parametrize("entity", RDS_ENTITIES, ids=lambda e: e.name)
def test_whatever_the_validator_accepts_the_tables_accept(migrated_db, entity):
    accepted: list[int] = []

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(rows=_rows(entity))
    def staged_without_refusal(rows: list[str]) -> None:
        # GIVEN rows of valid values with some pushed to or past an edge
        text = ",".join(entity.column_names) + "\n" + "\n".join(rows) + "\n"
        # WHEN validated and pseudonymized as the ingest does
        valid = ValidRows(Route(entity, Format.CSV, False), b"k")
        batches = list(valid.batches(iter([text.encode()]), RejectSink("k", entity)))
        # THEN the database accepts every row that got through: it never finds what the validator missed
        _stage_and_insert(migrated_db, entity, batches)
        assert valid.rows_in == sum(t.num_rows for t in batches) + valid.rows_rejected
        accepted.append(sum(t.num_rows for t in batches))

    staged_without_refusal()
    # AND the property reached the database: rows were accepted and staged, not only rejected
    assert sum(accepted) >= 10


def test_a_birth_date_the_table_would_refuse_is_out_of_range_before_staging(lake):
    # GIVEN three good procedures and one patient born 2105-03-04, after the procedure (item 7)
    lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))
    body = csv_file(PROC_HEADER, [procedure(1), procedure(2), procedure(3, birth="2105-03-04"), procedure(4)])
    # WHEN ingested
    assert lake.ingest("surgical_procedures/p.csv", body) == {"batchItemFailures": []}
    # THEN that row alone is out_of_range (its stored age shown: 2025 - 2105 = -80, and on 03-03
    # the 03-04 birthday is not reached: -81), the others load, once
    row = {r["object_key"]: r for r in lake.ledger()}["surgical_procedures/p.csv"]
    assert (row["status"], row["rows_in"], row["rows_loaded"], row["rows_rejected"], row["attempts"]) == (
        "partial", 4, 3, 1, 1)
    [reject] = lake.quarantine_lines("surgical_procedures/surgical_procedures/p.csv.rejects.ndjson")
    assert (reject["line"], reject["reasons"], reject["row"]["patient_age_at_procedure"]) == (4, ["out_of_range"], -81)
    assert lake.query("SELECT procedure_id FROM surgical_procedures ORDER BY 1") == [
        ("PROC-000001",), ("PROC-000002",), ("PROC-000004",)]


def test_a_parked_row_the_table_refuses_is_rejected_with_its_reason_and_the_parent_still_loads(lake):
    # GIVEN two procedures and a maintenance log parked for ROBOT-0001, one procedure as an older
    # ingest (whose contract lacked the rule) parked it: aged 95 without the 90+ grouping
    lake.ingest("surgical_procedures/p.csv", csv_file(PROC_HEADER, [procedure(1), procedure(2)]))
    lake.ingest("robot_maintenance_logs/m.csv", csv_file(MAINT_HEADER, [maintenance(1)]))
    lake.query_exec("UPDATE etl.parked_rows SET row_data = jsonb_set(row_data, '{patient_age_at_procedure}', '95')"
                    " WHERE row_key = 'PROC-000002'")
    assert lake.query("SELECT count(*) FROM etl.parked_rows") == [(3,)]
    # WHEN the robot arrives
    response = lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1), robot(2)]))
    # THEN the robots load (no retry), the good children move into their tables, the refused one is
    # kept with its reason, the constraint and the object whose load moved it
    assert response == {"batchItemFailures": []}
    robots = {r["object_key"]: r for r in lake.ledger()}["surgical_robots/r.csv"]
    assert (robots["status"], robots["rows_loaded"], robots["attempts"]) == ("loaded", 2, 1)
    assert lake.query("SELECT robot_id FROM surgical_robots ORDER BY 1") == [("ROBOT-0001",), ("ROBOT-0002",)]
    assert lake.query("SELECT procedure_id FROM surgical_procedures") == [("PROC-000001",)]
    assert lake.query("SELECT maintenance_id FROM robot_maintenance_logs") == [("MAINT-000001",)]
    assert lake.query("SELECT entity, row_key, reason, detail, rejected_by, row_data->>'patient_age_at_procedure'"
                      " FROM etl.parked_rejects") == [
        ("surgical_procedures", "PROC-000002", "out_of_range", "surgical_procedures_patient_age_at_procedure_check",
         "surgical_robots/r.csv", "95")]
    assert lake.query("SELECT count(*) FROM etl.parked_rows") == [(0,)]

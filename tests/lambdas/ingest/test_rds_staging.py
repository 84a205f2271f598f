"""Binary COPY into the staging table: every stored type, NULLs and awkward text arrive intact."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pyarrow as pa
import pytest

from lake.contract import ENTITIES, DType, Entity, Landing, arrow_schema
from lambdas.ingest import rds_loader

TRANSACTIONAL = [name for name, entity in ENTITIES.items() if entity.landing is Landing.RDS]
SRC_MODIFIED = datetime(2025, 3, 3, 9, 30, 15, 250000, tzinfo=UTC)
# Three rows per type; the third is NULL where the column allows it. Text a CSV stream would
# have to quote or escape, instants either side of PostgreSQL's 2000-01-01 binary epoch.
VALUES: dict[DType, list[object]] = {
    DType.STRING: ["a,\"quoted\"\nline", "ünïcödé \\N", ""],
    DType.INT: [-1, 2100, 0],
    DType.FLOAT: [0.1, -1e300, 42.0],
    DType.BOOL: [True, False, True],
    DType.DATE: [date(1969, 7, 20), date(2030, 1, 1), date(2000, 1, 1)],
    DType.TIMESTAMP: [datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
                      datetime(2025, 3, 3, 8, 0, 0, 123000, tzinfo=UTC),
                      datetime(2000, 1, 1, tzinfo=UTC)],
}


def _rows(entity: Entity, start: int) -> pa.Table:
    """Three rows covering each stored column's type; primary keys sort in row order."""
    columns = {}
    for column in entity.stored_columns():
        values = list(VALUES[column.dtype])
        if column.name == entity.primary_key:
            values = [f"KEY-{start + i:03d}" for i in range(3)]
        elif column.nullable:
            values[2] = None
        columns[column.name] = values
    return pa.Table.from_pydict(columns, schema=arrow_schema(entity.stored_columns()))


def _staged(conn: psycopg.Connection, entity: Entity) -> list[tuple]:
    names = ", ".join([*entity.stored_column_names, "src_key", "src_modified"])
    return conn.execute(f"SELECT {names} FROM {rds_loader.STAGE} ORDER BY {entity.primary_key}").fetchall()


@pytest.mark.parametrize("name", TRANSACTIONAL)
def test_every_stored_type_round_trips_through_the_binary_copy(migrated_db: str, name: str) -> None:
    # GIVEN two batches of rows with every stored column filled (and NULL where allowed)
    entity = ENTITIES[name]
    batches = [_rows(entity, 0), _rows(entity, 3)]
    with psycopg.connect(migrated_db) as conn:
        # WHEN they are staged through one COPY
        with rds_loader.staging(conn, entity, "k/objects.csv", SRC_MODIFIED) as stager:
            for batch in batches:
                stager.write(batch)
        # THEN the staging table holds exactly those values, with the source object's lineage
        expected = [(*row.values(), "k/objects.csv", SRC_MODIFIED)
                    for batch in batches for row in batch.to_pylist()]
        assert stager.rows == 6
        assert _staged(conn, entity) == expected


def test_an_object_without_valid_rows_stages_nothing(migrated_db: str) -> None:
    # GIVEN an object whose rows were all rejected (the validator yields no batch)
    entity = ENTITIES["surgical_robots"]
    with psycopg.connect(migrated_db) as conn:
        # WHEN it is staged
        with rds_loader.staging(conn, entity, "k/empty.csv", SRC_MODIFIED) as stager:
            stager.write(_rows(entity, 0).slice(0, 0))
        # THEN the COPY completes (header and trailer only) with an empty staging table
        assert stager.rows == 0
        assert _staged(conn, entity) == []


def test_a_copy_error_on_the_sending_thread_reaches_the_caller(migrated_db: str) -> None:
    # GIVEN a batch PostgreSQL refuses: text holding U+0000 (validation rejects such rows first)
    entity = ENTITIES["surgical_robots"]
    batch = _rows(entity, 0)
    model = batch.schema.get_field_index("model")
    batch = batch.set_column(model, batch.schema.field(model), pa.array(["X\x00i"] * 3))
    # WHEN it is staged, THEN PostgreSQL's error surfaces in this thread
    with psycopg.connect(migrated_db) as conn, pytest.raises(psycopg.errors.CharacterNotInRepertoire), \
            rds_loader.staging(conn, entity, "k/bad.csv", SRC_MODIFIED) as stager:
        stager.write(batch)

"""The contract is internally consistent: keys exist, parents exist, PHI is pseudonymized."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from lake.contract import (
    ENTITIES,
    LAKE_TABLES,
    LOAD_ORDER,
    DType,
    ForeignKey,
    Landing,
    Privacy,
    Pseudonym,
    load_order,
)
from lake.layout import entity_of_key, lake_file_name, partition_prefix

ALL = list(ENTITIES.values())


@pytest.mark.parametrize("entity", ALL, ids=lambda e: e.name)
def test_keys_and_foreign_keys_name_real_columns(entity) -> None:
    assert entity.primary_key in entity.column_names
    for fk in entity.foreign_keys:
        assert fk.column in entity.column_names
        assert fk.parent_column == ENTITIES[fk.parent].primary_key
    for rc in entity.row_checks:
        assert entity.column(rc.left).dtype == entity.column(rc.right).dtype


@pytest.mark.parametrize("entity", ALL, ids=lambda e: e.name)
def test_no_phi_survives_pseudonymization(entity) -> None:
    stored = entity.stored_columns()
    assert not any(c.privacy is Privacy.DIRECT_IDENTIFIER for c in stored)
    for col in entity.columns:
        if col.privacy is Privacy.DIRECT_IDENTIFIER or col.privacy is Privacy.QUASI_IDENTIFIER:
            assert col.pseudonym is not None, f"{entity.name}.{col.name} is PHI without a pseudonym"
            assert col.name not in {c.name for c in stored}


def test_patterns_compile_and_load_order_puts_parents_first() -> None:
    for entity in ALL:
        for col in entity.columns:
            if col.pattern:
                re.compile(col.pattern)
    rds = [e.name for e in ALL if e.landing is Landing.RDS]
    assert sorted(LOAD_ORDER) == sorted(rds)
    for name in LOAD_ORDER:
        for fk in ENTITIES[name].parking_parents:
            assert LOAD_ORDER.index(fk.parent) < LOAD_ORDER.index(name)


def test_procedure_stored_columns_replace_phi() -> None:
    stored = ENTITIES["surgical_procedures"].stored_column_names
    assert "patient_key" in stored and "patient_zip3" in stored
    assert {"patient_age_at_procedure", "patient_age_90_plus"} <= set(stored)
    assert "patient_birth_year" not in stored  # a stored birth year ages past 89 (ADR 0001)
    assert not {"patient_id", "patient_name", "patient_birth_date", "patient_zip"} & set(stored)


def test_lake_tables_have_partition_keys() -> None:
    assert ENTITIES["procedure_telemetry"].partition_keys == ("date", "robot_id")
    for table in LAKE_TABLES.values():
        assert table.partition_keys == ("date",)


def test_load_order_is_a_topological_order_of_every_foreign_key() -> None:
    # THEN every parent among the RDS entities comes before its child (parking or not)
    for name in LOAD_ORDER:
        for fk in ENTITIES[name].foreign_keys:
            assert LOAD_ORDER.index(fk.parent) < LOAD_ORDER.index(name), (fk.parent, name)
    # AND it is what the foreign keys give, whatever order the entities are listed in
    for entities in (list(ENTITIES.values()), list(reversed(ENTITIES.values()))):
        order = load_order(entities)
        assert sorted(order) == sorted(LOAD_ORDER)
        assert all(order.index(fk.parent) < order.index(e.name) for e in entities if e.name in order
                   for fk in e.foreign_keys if fk.parent in order)
    assert load_order(reversed(ENTITIES.values()))[0] == "surgical_robots"


def test_load_order_refuses_a_cycle() -> None:
    robots = ENTITIES["surgical_robots"]
    looped = replace(robots, foreign_keys=(ForeignKey("robot_id", "robot_maintenance_logs", "maintenance_id",
                                                      parks=True),))
    with pytest.raises(ValueError, match="cycle"):
        load_order([looped, *(e for e in ENTITIES.values() if e.name != robots.name)])


def test_stated_rules_name_real_columns() -> None:
    # The age reference is stated (not the first required timestamp, which column order decides)
    for entity in ALL:
        if any(c.pseudonym is Pseudonym.AGE for c in entity.columns):
            ref = entity.column(entity.age_reference or "")
            assert ref.dtype is DType.TIMESTAMP and not ref.nullable
        if entity.landing is Landing.LAKE:
            assert entity.column(entity.partition_date_from or "").dtype is DType.TIMESTAMP
    assert ENTITIES["surgical_procedures"].age_reference == "scheduled_start"
    assert ENTITIES["procedure_telemetry"].partition_date_from == "timestamp"


def test_age_outputs_follow_the_stated_reference_not_column_order() -> None:
    procedures = ENTITIES["surgical_procedures"]
    moved = replace(procedures, columns=tuple(sorted(procedures.columns, key=lambda c: c.name)))
    # GIVEN the columns reordered: recorded timestamps no longer follow scheduled_start
    assert set(moved.stored_columns()) == set(procedures.stored_columns())
    [age, flag] = moved.pseudonym_outputs(moved.column("patient_birth_date"))
    assert (age.name, flag.name) == ("patient_age_at_procedure", "patient_age_90_plus")
    assert "at scheduled_start" in age.description and "at scheduled_start" in flag.description


@pytest.mark.parametrize(("key", "entity"), [
    ("surgical_robots/fleet.csv", "surgical_robots"),
    ("procedure_telemetry/facility=FAC-001/2025/t.ndjson.gz", "procedure_telemetry"),
    ("surgical_robots", None),  # no object under the entity's folder
    ("lab_results/r.csv", None),
    ("/surgical_robots/r.csv", None),
])
def test_entity_of_key_reads_the_first_segment(key: str, entity: str | None) -> None:
    assert entity_of_key(key) == entity


def test_lake_layout() -> None:
    assert partition_prefix("procedure_telemetry", ("date", "robot_id"), ("2025-03-01", "ROBOT-0001")) \
        == "procedure_telemetry/date=2025-03-01/robot_id=ROBOT-0001/"
    name = lake_file_name("procedure_telemetry/a b/t.ndjson", "etag:0123456789abcdef")
    assert name.startswith("t.ndjson-") and name.endswith("-0123456789ab.parquet")
    assert name != lake_file_name("procedure_telemetry/other/t.ndjson", "etag:0123456789abcdef")

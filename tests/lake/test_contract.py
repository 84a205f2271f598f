"""The contract is internally consistent: keys exist, parents exist, PHI is pseudonymized."""

from __future__ import annotations

import re

import pytest

from lake.contract import ENTITIES, LAKE_TABLES, LOAD_ORDER, Landing, Privacy

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

"""Clean output satisfies every rule of the contract and every foreign key (checked independently)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from lake.contract import ENTITIES, GROUND_TRUTH_FILE, MANIFEST_FILE
from tests.generators.contract_check import (
    entity_files,
    parse_instant,
    read_lines,
    row_reasons,
    simulate_ingest,
)


def _rows(out: Path, entity: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in entity_files(out, entity):
        _, lines = read_lines(path)
        assert all(line.row is not None for line in lines), f"malformed line in clean {path.name}"
        rows.extend(line.row for line in lines)  # type: ignore[misc]
    return rows


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_row_satisfies_the_contract(tiny_clean: Path, entity: str) -> None:
    # GIVEN a clean tiny generation, read back with the csv/json modules
    rows = _rows(tiny_clean, entity)
    # WHEN every row is checked against the contract's types, ranges, enums, patterns and row checks
    bad = [(row, reasons) for row in rows if (reasons := row_reasons(ENTITIES[entity], row))]
    # THEN nothing violates it, the primary key is unique across all files, and the header is the contract's
    assert rows and not bad, bad[:3]
    keys = Counter(row[ENTITIES[entity].primary_key] for row in rows)
    assert max(keys.values()) == 1
    for path in entity_files(tiny_clean, entity):
        header, _ = read_lines(path)
        if header:
            assert tuple(header) == ENTITIES[entity].column_names


def test_every_foreign_key_resolves_and_nothing_is_parked(tiny_clean: Path) -> None:
    # GIVEN the clean tiny output
    keys = {name: {row[e.primary_key] for row in _rows(tiny_clean, name)} for name, e in ENTITIES.items()}
    # WHEN each foreign key is looked up in its parent
    for name, entity in ENTITIES.items():
        for fk in entity.foreign_keys:
            missing = {row[fk.column] for row in _rows(tiny_clean, name)} - keys[fk.parent]
            # THEN it is there
            assert not missing, f"{name}.{fk.column}: {sorted(map(str, missing))[:5]}"
    # AND a simulated ingest loads every row, matching the manifest
    outcome = simulate_ingest(tiny_clean)
    manifest = json.loads((tiny_clean / MANIFEST_FILE).read_text())
    for name in ENTITIES:
        counts = manifest["entities"][name]
        assert counts["rows_in"] == counts["loaded"] == outcome.counts[name]["loaded"] > 0
        assert counts["parked"] == counts["rejected"] == 0
    assert (tiny_clean / GROUND_TRUTH_FILE).read_text() == ""


def test_telemetry_lies_inside_its_procedure_window_on_four_arms(tiny_clean: Path) -> None:
    # GIVEN procedures and telemetry read back
    procs = {row["procedure_id"]: row for row in _rows(tiny_clean, "surgical_procedures")}
    telemetry = _rows(tiny_clean, "procedure_telemetry")
    # WHEN each sample is placed in its procedure's window
    arms: Counter[object] = Counter()
    for sample in telemetry:
        proc = procs[sample["procedure_id"]]
        # THEN the procedure was performed, on the same robot, and the sample is inside [start, end]
        assert proc["status"] in ("completed", "converted")
        assert proc["robot_id"] == sample["robot_id"]
        t = parse_instant(str(sample["timestamp"]))
        assert parse_instant(str(proc["actual_start"])) <= t <= parse_instant(str(proc["actual_end"]))
        arms[sample["arm_id"]] += 1
    assert set(arms) == {1, 2, 3, 4}
    # AND cancelled procedures have no actual times and no telemetry
    cancelled = [p for p in procs.values() if p["status"] == "cancelled"]
    assert cancelled and all(p["actual_start"] == "" and p["actual_end"] == "" for p in cancelled)
    assert not {p["procedure_id"] for p in cancelled} & {s["procedure_id"] for s in telemetry}


def test_each_day_file_holds_only_that_utc_day(tiny_clean: Path) -> None:
    # GIVEN the telemetry day files
    for path in entity_files(tiny_clean, "procedure_telemetry"):
        day = path.name.removeprefix("telemetry_").split(".")[0]
        _, lines = read_lines(path)
        # THEN every sample in it falls on that UTC day, in time order
        instants = [parse_instant(str(line.row["timestamp"])) for line in lines]  # type: ignore[index]
        assert {i.astimezone(dt.UTC).date().isoformat() for i in instants} == {day}
        assert instants == sorted(instants)


def test_timestamps_come_in_every_facility_style(tiny_clean: Path) -> None:
    # GIVEN procedure timestamps from several facilities
    starts = [str(row["scheduled_start"]) for row in _rows(tiny_clean, "surgical_procedures")]
    # THEN most end in Z, some carry an offset and some are naive (UTC), all valid ISO 8601
    zulu = sum(s.endswith("Z") for s in starts)
    offset = sum(s[-6] in "+-" for s in starts)
    naive = len(starts) - zulu - offset
    assert zulu > len(starts) / 2 and offset > 0 and naive > 0


def test_generator_enums_are_the_contracts_and_a_new_contract_value_is_noticed() -> None:
    from dataclasses import replace

    from generators.catalog import GENERATED_ENUMS, enum_mismatches
    from lake.contract import ENTITIES

    # GIVEN the real contract THEN the generator produces exactly its enum values
    assert enum_mismatches(ENTITIES, GENERATED_ENUMS) == []
    # WHEN the contract gains a value the generator does not know THEN it is named
    robots = ENTITIES["surgical_robots"]
    status = replace(robots.column("status"), enum=(*(robots.column("status").enum or ()), "loaned"))
    grown = {**ENTITIES, robots.name: replace(robots, columns=tuple(
        status if c.name == "status" else c for c in robots.columns))}
    assert enum_mismatches(grown, GENERATED_ENUMS) == [
        "surgical_robots.status: contract ['active', 'loaned', 'maintenance', 'retired'],"
        " generator ['active', 'maintenance', 'retired']"]

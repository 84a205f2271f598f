"""Dirty output: every defect kind is injected, recorded exactly, and the manifest is what ingest must get."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lake.contract import DEFECT_OUTCOMES, ENTITIES, GROUND_TRUTH_FILE, MANIFEST_FILE
from tests.generators.contract_check import entity_files, read_lines, simulate_ingest


def _truth(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / GROUND_TRUTH_FILE).read_text().splitlines()]


def _keys(out: Path, entity: str) -> set[object]:
    """Primary keys of every parsed row of an entity (defective rows included)."""
    keys = set()
    for path in entity_files(out, entity):
        for line in read_lines(path)[1]:
            if line.row is not None:
                keys.add(line.row.get(ENTITIES[entity].primary_key))
    return keys


@pytest.mark.parametrize("folder", ["tiny_dirty", "tiny_dirty_ndjson_gz"])
def test_every_defect_kind_is_in_the_files_and_the_ground_truth(
    folder: str, request: pytest.FixtureRequest
) -> None:
    # GIVEN a tiny generation with a 2-5 % dirty rate
    out: Path = request.getfixturevalue(folder)
    truth = _truth(out)
    # THEN the ground truth lists every defect kind, with the contract's expected outcome
    assert {t["kind"] for t in truth} == set(DEFECT_OUTCOMES)
    for t in truth:
        expected = DEFECT_OUTCOMES[str(t["kind"])]
        if t["kind"] == "orphan_fk":
            expected = "loaded" if t["entity"] == "procedure_telemetry" else "parked"
        assert t["expected"] == expected
    # AND a CSV/NDJSON malformed row and a parked orphan exist in the transactional files too
    transactional = [t for t in truth if t["entity"] != "procedure_telemetry"]
    assert {"malformed_row", "orphan_fk", "duplicate_key"} <= {t["kind"] for t in transactional}
    # AND no (file, line) is listed twice: one defect per row
    assert len({(t["file"], t["line"]) for t in truth}) == len(truth)


@pytest.mark.parametrize("folder", ["tiny_dirty", "tiny_dirty_ndjson_gz"])
def test_each_ground_truth_line_really_holds_its_defect(folder: str, request: pytest.FixtureRequest) -> None:
    # GIVEN the ground truth and an independent, simulated ingest of the folder
    out: Path = request.getfixturevalue(folder)
    outcome = simulate_ingest(out)
    parents = {name: _keys(out, name) for name in ("surgical_robots", "surgical_procedures")}
    for t in _truth(out):
        # WHEN the listed line is read back and checked
        seen = outcome.by_line[(str(t["file"]), int(t["line"]))]  # type: ignore[call-overload]
        # THEN it fails exactly the expected rule (orphans: valid rows whose parent key exists nowhere)
        if t["kind"] == "orphan_fk":
            assert seen == ("valid" if t["expected"] == "loaded" else "parked"), t
            _, lines = read_lines(out / str(t["file"]))
            row = next(line.row for line in lines if line.number == t["line"])
            assert row is not None
            fk = next(f for f in ENTITIES[str(t["entity"])].foreign_keys if f.column == t["column"])
            assert row[fk.column] not in parents[fk.parent]
        else:
            assert seen == t["expected"], t
            if t["column"] is not None and t["kind"] not in ("duplicate_key",):
                assert t["column"] in ENTITIES[str(t["entity"])].column_names


@pytest.mark.parametrize("folder", ["tiny_dirty", "tiny_dirty_ndjson_gz"])
def test_every_rejected_line_is_in_the_ground_truth(folder: str, request: pytest.FixtureRequest) -> None:
    # GIVEN the simulated ingest
    out: Path = request.getfixturevalue(folder)
    outcome = simulate_ingest(out)
    listed = {(t["file"], t["line"]) for t in _truth(out)}
    # THEN every row the checker rejects was injected on purpose (nothing broke by accident)
    rejected = {k for k, v in outcome.by_line.items() if v not in ("valid", "parked")}
    assert rejected <= listed
    assert rejected


@pytest.mark.parametrize("folder", ["tiny_dirty", "tiny_dirty_ndjson_gz"])
def test_manifest_counts_are_what_ingest_produces(folder: str, request: pytest.FixtureRequest) -> None:
    # GIVEN the manifest and a simulated ingest of every file (cascade of parked children included)
    out: Path = request.getfixturevalue(folder)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    outcome = simulate_ingest(out)
    for name in ENTITIES:
        counts = manifest["entities"][name]
        # THEN the arithmetic holds and each count equals the simulation's
        assert counts["rows_in"] == counts["loaded"] + counts["parked"] + counts["rejected"]
        assert counts["loaded"] == outcome.counts[name]["loaded"], name
        assert counts["parked"] == outcome.counts[name]["parked"], name
        assert counts["rejected"] == outcome.counts[name]["rejected"], name
        assert sorted(counts["files"]) == [p.relative_to(out).as_posix() for p in entity_files(out, name)]
        truth_kinds = Counter(t["kind"] for t in _truth(out) if t["entity"] == name)
        assert counts["defects"] == dict(truth_kinds)
    # AND the cascade shows: some children are parked without being defective themselves
    parked_children = manifest["entities"]["procedure_outcomes"]["parked"]
    orphans = manifest["entities"]["procedure_outcomes"]["defects"].get("orphan_fk", 0)
    assert parked_children > orphans


def test_one_procedures_file_carries_an_unknown_phi_column(tiny_dirty: Path) -> None:
    # GIVEN the dirty manifest
    manifest = json.loads((tiny_dirty / MANIFEST_FILE).read_text())
    unknown = manifest["entities"]["surgical_procedures"]["unknown_columns"]
    # THEN exactly one file is listed, and its header really has that extra column
    ((key, columns),) = unknown.items()
    header, _ = read_lines(tiny_dirty / key)
    assert columns == ["patient_ssn"] and header[-1] == "patient_ssn"
    assert "patient_ssn" not in ENTITIES["surgical_procedures"].column_names


def test_a_blank_ndjson_line_is_not_a_row(tiny_dirty: Path) -> None:
    # GIVEN the telemetry files of a dirty run (the first one carries one blank line)
    first = entity_files(tiny_dirty, "procedure_telemetry")[0]
    physical = first.read_text().split("\n")[:-1]
    _, rows = read_lines(first)
    # THEN the blank line is skipped but still counted in the physical line numbers
    assert physical.count("") == 1 and len(rows) == len(physical) - 1


@pytest.mark.parametrize("folder", ["tiny_dirty", "tiny_dirty_ndjson_gz"])
def test_keys_never_repeat_across_files(folder: str, request: pytest.FixtureRequest) -> None:
    # GIVEN every parsed row of every file (duplicates are injected within one file only)
    out: Path = request.getfixturevalue(folder)
    for name, entity in ENTITIES.items():
        owner: dict[object, str] = {}
        for path in entity_files(out, name):
            for line in read_lines(path)[1]:
                if line.row is None or entity.primary_key not in line.row:
                    continue
                key = line.row[entity.primary_key]
                # THEN a key seen in another file is never seen again here
                assert owner.setdefault(key, path.name) == path.name, (name, key)

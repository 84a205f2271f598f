"""Same arguments, same bytes; scales give the documented sizes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lake.contract import ENTITIES, MANIFEST_FILE
from tests.generators.conftest import run_generate


def _digests(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_byte_identical_files(tmp_path: Path, tiny_dirty_ndjson_gz: Path) -> None:
    # GIVEN two runs with the same arguments into different folders (dirty, NDJSON, gzip)
    args = ("--scale", "tiny", "--dirty-rate", "0.05", "--format", "ndjson", "--gzip", "--seed", "7")
    again = run_generate(tmp_path / "again", *args)
    # THEN every file, manifest and ground truth included, has the same SHA-256
    first = _digests(tiny_dirty_ndjson_gz)
    assert first == _digests(again)
    assert any(k.endswith(".ndjson.gz") for k in first) and "_ground_truth.ndjson" in first


def test_another_seed_gives_other_data(tmp_path: Path, tiny_clean: Path) -> None:
    # GIVEN the tiny clean run (seed 42) and one with seed 43
    other = run_generate(tmp_path / "other", "--scale", "tiny", "--seed", "43")
    # THEN the data files differ
    a, b = _digests(tiny_clean), _digests(other)
    assert a["surgical_robots/robots.csv"] != b["surgical_robots/robots.csv"]


def test_dirty_rate_changes_only_the_corrupted_rows(tiny_clean: Path, tiny_dirty: Path) -> None:
    # GIVEN clean and dirty tiny runs with the same seed
    clean = (tiny_clean / "surgical_robots/robots.csv").read_text()
    dirty_lines = set((tiny_dirty / "procedure_outcomes/outcomes_2025-01.csv").read_text().splitlines())
    clean_lines = (tiny_clean / "procedure_outcomes/outcomes_2025-01.csv").read_text().splitlines()
    # THEN the clean rows are the same (defects are layered on top, not a different world)
    assert clean == (tiny_dirty / "surgical_robots/robots.csv").read_text()
    unchanged = sum(line in dirty_lines for line in clean_lines)
    assert len(clean_lines) - unchanged <= 12


def test_tiny_scale_counts(tiny_clean: Path) -> None:
    # GIVEN the tiny manifest
    entities = json.loads((tiny_clean / MANIFEST_FILE).read_text())["entities"]
    rows = {name: entities[name]["rows_in"] for name in ENTITIES}
    # THEN the documented sizes hold (telemetry: 100 samples per performed procedure)
    assert rows["surgical_robots"] == 5
    assert rows["robot_maintenance_logs"] == 20
    assert rows["surgical_procedures"] == rows["procedure_outcomes"] == 100
    assert 8_000 <= rows["procedure_telemetry"] <= 10_000
    assert rows["procedure_telemetry"] % 100 == 0


def test_flags_override_the_scale(tmp_path: Path) -> None:
    # GIVEN tiny with 40 procedures and 12 samples each
    out = run_generate(
        tmp_path / "o", "--scale", "tiny", "--procedures", "40", "--samples-per-procedure", "12"
    )
    entities = json.loads((out / MANIFEST_FILE).read_text())["entities"]
    # THEN procedures and telemetry follow the flags
    assert entities["surgical_procedures"]["rows_in"] == 40
    assert entities["procedure_telemetry"]["rows_in"] % 12 == 0
    assert 30 * 12 <= entities["procedure_telemetry"]["rows_in"] <= 40 * 12


def test_default_scale_counts_and_variety(tmp_path: Path) -> None:
    # GIVEN one default-scale run (about 3 s)
    out = run_generate(tmp_path / "default")
    entities = json.loads((out / MANIFEST_FILE).read_text())["entities"]
    # THEN the seed's sizes hold
    assert entities["surgical_robots"]["rows_in"] == 50
    assert entities["robot_maintenance_logs"]["rows_in"] == 200
    assert entities["surgical_procedures"]["rows_in"] == entities["procedure_outcomes"]["rows_in"] == 5_000
    assert 440_000 <= entities["procedure_telemetry"]["rows_in"] <= 480_000
    lines = sum((out / k).read_bytes().count(b"\n") for k in entities["procedure_telemetry"]["files"])
    assert lines == entities["procedure_telemetry"]["rows_in"]
    assert len(entities["procedure_telemetry"]["files"]) >= 150  # one file per day over ~6 months
    # AND 10 facilities, 10 robot models and 30+ procedure types appear
    robots = (out / "surgical_robots/robots.csv").read_text().splitlines()[1:]
    assert len({r.split(",")[4] for r in robots}) == 10
    assert len({r.split(",")[2] for r in robots}) == 10
    types = set()
    for key in entities["surgical_procedures"]["files"]:
        header, *rows = (out / key).read_text().splitlines()
        col = header.split(",").index("procedure_type")
        types |= {r.split(",")[col] for r in rows}
    assert len(types) >= 30


def test_gzip_header_has_no_name_and_no_time(tiny_dirty_ndjson_gz: Path) -> None:
    # GIVEN a gzipped file of the generator
    head = (tiny_dirty_ndjson_gz / "surgical_robots/robots.ndjson.gz").read_bytes()[:10]
    # THEN the gzip header carries no file name (FLG bit 3) and a zero mtime: reproducible bytes
    assert head[:2] == b"\x1f\x8b" and head[3] & 0x08 == 0 and head[4:8] == b"\x00\x00\x00\x00"


def test_start_date_moves_the_whole_range(tmp_path: Path) -> None:
    # GIVEN a tiny run that starts on 2024-02-15 (a leap year; tiny covers 30 days)
    out = run_generate(tmp_path / "shifted", "--scale", "tiny", "--start-date", "2024-02-15")
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    # THEN the manifest records it and every telemetry day file lies in (or just after) that range
    assert manifest["generator"]["start_date"] == "2024-02-15"
    days = [k.split("_")[-1].split(".")[0] for k in manifest["entities"]["procedure_telemetry"]["files"]]
    assert days and min(days) >= "2024-02-15" and max(days) <= "2024-03-16"
    assert {k.split("/")[1] for k in manifest["entities"]["surgical_procedures"]["files"]} <= {
        "procedures_2024-02.csv",
        "procedures_2024-03.csv",
    }

"""Small pure pieces of local mode: output formats, input listing, run-report statuses, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from local.analytics.spark_session import check_java
from local.exceptions import InputError, SparkUnavailable
from local.local_run import input_files
from local.report.ledger_reader import LedgerEntry
from local.report.run_report import UploadedObject, object_outcomes
from local.tabular import render


def test_render_formats():
    # GIVEN two rows with a null WHEN rendered THEN each format shows them faithfully
    cols, rows = ["entity", "rows"], [("surgical_robots", 5), ("procedure_outcomes", None)]
    assert json.loads(render(cols, rows, "json")) == [
        {"entity": "surgical_robots", "rows": 5},
        {"entity": "procedure_outcomes", "rows": None},
    ]
    assert render(cols, rows, "csv").splitlines() == [
        "entity,rows",
        "surgical_robots,5",
        "procedure_outcomes,",
    ]
    table = render(cols, rows, "table").splitlines()
    assert table[0].split() == ["entity", "rows"] and table[2].split() == ["surgical_robots", "5"]
    assert table[-1] == "(2 rows)"


def test_input_files_skip_metadata_and_order_parents_first(tmp_path):
    # GIVEN generator output with metadata, hidden files and children before parents alphabetically
    for rel in [
        "_manifest.json",
        ".DS_Store",
        "procedure_outcomes/o.csv",
        "surgical_robots/r.csv",
        "surgical_procedures/p.csv",
        "procedure_telemetry/t.ndjson",
        "surgical_robots/_tmp/x.csv",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    # WHEN listed for upload
    keys = [key for _, key in input_files(tmp_path)]
    # THEN metadata is skipped, keys are relative paths, robots come before procedures before outcomes
    assert keys == [
        "surgical_robots/r.csv",
        "surgical_procedures/p.csv",
        "procedure_outcomes/o.csv",
        "procedure_telemetry/t.ndjson",
    ]


def test_input_files_errors(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        input_files(tmp_path / "missing")
    (tmp_path / "_manifest.json").write_text("{}")
    with pytest.raises(InputError, match="no data files"):
        input_files(tmp_path)


def _entry(key: str, checksum: str, status: str, rows: tuple[int, int, int, int]) -> LedgerEntry:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    return LedgerEntry(key, checksum, "surgical_robots", status, *rows, 0, None, when, when, when)


def test_object_outcomes_from_ledger_snapshots():
    # GIVEN an object finished before the run, one loaded now, one that never finished, one never seen
    uploaded = [
        UploadedObject("surgical_robots/a.csv", "aa"),
        UploadedObject("surgical_robots/b.csv", "bb"),
        UploadedObject("surgical_robots/c.csv", "cc"),
        UploadedObject("surgical_robots/d.csv", "dd"),
    ]
    before = [_entry("surgical_robots/a.csv", "aa", "loaded", (3, 3, 0, 0))]
    after = [
        *before,
        _entry("surgical_robots/b.csv", '"bb"', "partial", (4, 2, 1, 1)),
        _entry("surgical_robots/c.csv", "cc", "failed", (0, 0, 0, 0)),
    ]
    # WHEN the report rows are derived
    rows = {r["key"]: r for r in object_outcomes(uploaded, before, after)}
    # THEN statuses and counts follow the ledger; skipped counts are what this run did (nothing)
    assert (
        rows["surgical_robots/a.csv"]["status"] == "skipped" and rows["surgical_robots/a.csv"]["rows_in"] == 0
    )
    b = rows["surgical_robots/b.csv"]
    assert (b["status"], b["rows_in"], b["rows_loaded"], b["rows_parked"], b["rows_rejected"]) == (
        "partial",
        4,
        2,
        1,
        1,
    )
    assert rows["surgical_robots/c.csv"]["status"] == "failed"
    assert (
        rows["surgical_robots/d.csv"]["status"] == "failed"
        and rows["surgical_robots/d.csv"]["entity"] == "surgical_robots"
    )


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path):
    # GIVEN no java on PATH and a JAVA_HOME without one WHEN checked THEN the error says how to install it
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(SparkUnavailable, match="openjdk-17"):
        check_java()

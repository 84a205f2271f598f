"""The benchmarks still run end to end at toy sizes (their figures are not checked here: timing
belongs in `make bench`, not in tests), and leave the database as they found it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from bench import ingest, rds_guards


def test_ingest_benchmark_measures_every_path_at_toy_sizes(migrated_db: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a PostgreSQL server the benchmark is pointed at
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    out = tmp_path / "results.json"
    # WHEN every path runs once on a few thousand rows
    assert ingest.main(["--telemetry-rows", "3000", "--naive-telemetry-rows", "2000", "--rds-rows", "2000",
                        "--naive-rds-rows", "200", "--repeat", "1", "--json", str(out)]) == 0
    # THEN each path reports the rows it was given (the workers assert nothing was rejected)
    results = json.loads(out.read_text())
    assert sorted(r["rows"] for r in results) == [200, 2000, 2000, 3000]
    assert all(r["rows_per_s"] > 0 and r["peak_rss_mb"] > 0 for r in results)


@pytest.mark.parametrize("shape", ["array", "concatenated"])
def test_ingest_benchmark_reads_the_other_json_shapes(tmp_path: Path, shape: str) -> None:
    # GIVEN the telemetry rewritten as one JSON array, or as records concatenated without separators
    out = tmp_path / "results.json"
    assert ingest.main(["--telemetry-rows", "3000", "--naive-telemetry-rows", "0", "--skip-rds", "--repeat", "1",
                        "--shape", shape, "--json", str(out)]) == 0
    # THEN every record was read as a record and loaded (the worker asserts none was rejected)
    [result] = json.loads(out.read_text())
    assert result["rows"] == 3000 and shape in result["path"]


def test_reshape_keeps_every_record(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\r\n{"a": 3}\n')
    ingest.reshape(path, "array")
    assert json.loads(path.read_text()) == [{"a": 1}, {"a": 2}, {"a": 3}]
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    ingest.reshape(path, "concatenated")
    assert path.read_bytes() == b'{"a": 1}{"a": 2}'


def test_guard_benchmark_loads_every_variant_and_leaves_the_table_as_migrated(
        migrated_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def guards() -> list[tuple[str, int]]:
        with psycopg.connect(migrated_db) as conn:
            return conn.execute(
                "SELECT contype::text, count(*)::int FROM pg_constraint WHERE conrelid = %s::regclass"
                " GROUP BY 1 UNION ALL SELECT 'index', count(*)::int FROM pg_index WHERE indrelid = %s::regclass"
                " ORDER BY 1", (rds_guards.TABLE, rds_guards.TABLE)).fetchall()

    # GIVEN the migrated table's constraints and indexes
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    before = guards()
    # WHEN the benchmark loads 2,000 procedures with and without each kind of guard
    assert rds_guards.main(["--rows", "2000", "--repeat", "1"]) == 0
    # THEN every variant loaded every row (it raises otherwise), and nothing it dropped stays dropped
    assert len([line for line in capsys.readouterr().out.splitlines() if "rows/s" in line]) == len(rds_guards.VARIANTS)
    assert guards() == before and ("f", 1) in before
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute(f"SELECT count(*) FROM {rds_guards.TABLE}").fetchone() == (0,)

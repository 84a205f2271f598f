"""The generator's clean and dirty data through the handler: outcomes match its manifest and ground truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lake.contract import LOAD_ORDER
from tests.lambdas.ingest.generated import data_files, generate, ground_truth, ingest_files, manifest


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("clean") / "raw")


@pytest.fixture(scope="module")
def dirty_csv_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("dirty") / "raw", "--dirty-rate", "0.03")


@pytest.fixture(scope="module")
def dirty_ndjson_gz_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("dirtygz") / "raw", "--dirty-rate", "0.05", "--format", "ndjson",
                    "--gzip", "--seed", "7")


def _telemetry_rows(lake) -> int:
    return sum(lake.parquet(k).num_rows for k in lake.keys(lake.processed, "procedure_telemetry/"))


def _assert_ledger_adds_up(lake) -> None:
    for row in lake.ledger():
        assert row["status"] in ("loaded", "partial"), row["object_key"]
        assert row["rows_in"] == row["rows_loaded"] + row["rows_parked"] + row["rows_rejected"]


def test_clean_data_loads_every_row(lake, clean_folder):
    # GIVEN the generator's clean tiny dataset
    expected = manifest(clean_folder)["entities"]
    # WHEN every file is uploaded and its notification handled
    responses = ingest_files(lake, clean_folder, data_files(clean_folder))
    # THEN no message failed, every row is loaded and the counts match the generator's
    assert all(r == {"batchItemFailures": []} for r in responses)
    for entity in LOAD_ORDER:
        assert lake.query(f"SELECT count(*) FROM {entity}")[0][0] == expected[entity]["loaded"] > 0
    assert _telemetry_rows(lake) == expected["procedure_telemetry"]["loaded"] > 0
    assert lake.query("SELECT count(*) FROM etl.parked_rows") == [(0,)]
    assert lake.keys(lake.quarantine) == []
    ledger = lake.ledger()
    assert {r["status"] for r in ledger} == {"loaded"}
    assert sum(r["rows_in"] for r in ledger) == sum(e["rows_in"] for e in expected.values())
    _assert_ledger_adds_up(lake)


@pytest.mark.parametrize("folder_fixture", ["dirty_csv_folder", "dirty_ndjson_gz_folder"])
def test_dirty_data_rejects_exactly_the_injected_defects(lake, folder_fixture, request):
    # GIVEN a dirty dataset with its ground truth (one line per injected defect)
    folder = request.getfixturevalue(folder_fixture)
    expected = manifest(folder)["entities"]
    truth = ground_truth(folder)
    # WHEN every file is ingested, parents first
    responses = ingest_files(lake, folder, data_files(folder))
    # THEN each rejected defect is in quarantine with its reason, and nothing else is
    assert all(r == {"batchItemFailures": []} for r in responses)
    quarantined = {}
    for qkey in lake.keys(lake.quarantine):
        for line in lake.quarantine_lines(qkey):
            quarantined[(line["source_key"], line["line"])] = line["reasons"]
    rejected_truth = {(d["file"], d["line"]): d["expected"] for d in truth
                      if d["expected"] not in ("parked", "loaded")}
    assert set(quarantined) == set(rejected_truth)
    wrong = {k: (v, quarantined[k]) for k, v in rejected_truth.items() if v not in quarantined[k]}
    assert wrong == {}
    assert Counter(rejected_truth.values())["malformed_row"] > 0
    # AND the loaded and parked counts match the manifest (cascades included)
    for entity in LOAD_ORDER:
        assert lake.query(f"SELECT count(*) FROM {entity}")[0][0] == expected[entity]["loaded"], entity
        assert lake.query("SELECT count(*) FROM etl.parked_rows WHERE entity = %s", (entity,))[0][0] == \
            expected[entity]["parked"], entity
    assert _telemetry_rows(lake) == expected["procedure_telemetry"]["loaded"]
    _assert_ledger_adds_up(lake)

"""The files that broke the ingest (issue 11, tests/cases/*): each through the real handler.

Expected rows, counts and reasons are read off the case files by hand (tests/cases/README.md
says what each case is). Every object must end loaded, partial or rejected, never retried.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lake.contract import LOAD_ORDER
from tests.conftest import TESTS_DIR

CASES = TESTS_DIR / "cases"


def _files(case: str, parents_last: bool = False) -> list[tuple[str, bytes]]:
    root = CASES / case / "input"
    found = [(p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*") if p.is_file()]

    def order(item: tuple[str, bytes]) -> tuple[int, str]:
        entity = item[0].split("/", 1)[0]
        return (LOAD_ORDER.index(entity) if entity in LOAD_ORDER else len(LOAD_ORDER), item[0])

    return sorted(found, key=order, reverse=parents_last)


def ingest_case(lake, case: str, parents_last: bool = False) -> dict[str, dict]:
    """Upload and handle every file of a case (one message each); returns ledger rows by key."""
    for key, body in _files(case, parents_last):
        assert lake.ingest(key, body) == {"batchItemFailures": []}, key
    rows = {r["object_key"]: r for r in lake.ledger()}
    for row in rows.values():
        assert row["rows_in"] == row["rows_loaded"] + row["rows_parked"] + row["rows_rejected"]
    return rows


def _summary(rows: dict[str, dict]) -> dict[str, tuple]:
    return {k: (r["status"], r["rows_in"], r["rows_loaded"], r["rows_parked"], r["rows_rejected"])
            for k, r in rows.items()}


@pytest.mark.parametrize("parents_last", [False, True], ids=["robots first", "children first"])
def test_02_cr_only_line_endings_are_read_and_the_children_load(lake, parents_last):
    # GIVEN Excel for Mac's "CSV (Macintosh)": a header and five robots separated by CR alone
    raw = (CASES / "02-mac-cr-line-endings/input/surgical_robots/robots.csv").read_bytes()
    assert b"\n" not in raw and raw.count(b"\r") == 6
    # WHEN the case is ingested, in either order
    rows = ingest_case(lake, "02-mac-cr-line-endings", parents_last)
    # THEN five robots load and both maintenance logs reach their table (parked first, or not at all)
    assert _summary(rows)["surgical_robots/robots.csv"] == ("loaded", 5, 5, 0, 0)
    maint = rows["robot_maintenance_logs/maintenance_2025-Q1.csv"]
    assert (maint["status"], maint["rows_loaded"] + maint["rows_parked"]) == ("loaded", 2)
    assert lake.query("SELECT maintenance_id, robot_id FROM robot_maintenance_logs ORDER BY 1") == [
        ("MAINT-000201", "ROBOT-0001"), ("MAINT-000202", "ROBOT-0002")]
    assert lake.query("SELECT count(*) FROM etl.parked_rows") == [(0,)]
    assert lake.query("SELECT facility_name FROM surgical_robots WHERE robot_id = 'ROBOT-0003'") == [
        ("St. Catherine's Hospital, Boston",)]


def test_02_line_numbers_stay_right_with_cr_only_endings(lake):
    # GIVEN the CR-only robots file with its fourth line (ROBOT-0003) given an unknown status
    raw = (CASES / "02-mac-cr-line-endings/input/surgical_robots/robots.csv").read_bytes()
    broken = raw.replace(b"2022-08-19,4.0.4,active", b"2022-08-19,4.0.4,lost")
    # WHEN ingested
    assert lake.ingest("surgical_robots/robots.csv", broken) == {"batchItemFailures": []}
    # THEN the reject points at physical line 4, as an editor shows it
    [reject] = lake.quarantine_lines("surgical_robots/surgical_robots/robots.csv.rejects.ndjson")
    assert (reject["line"], reject["reasons"], reject["row"]["robot_id"]) == (4, ["bad_enum"], "ROBOT-0003")


def test_04_header_names_match_case_insensitively_and_optional_columns_keep_their_values(lake):
    # GIVEN maintenance headers `Parts_Replaced`/`Failure_Mode` (Q1) and all upper case (Q2)
    rows = ingest_case(lake, "04-header-case-optional-columns")
    # THEN both load in full, with no unknown column, and the optional values are there (not NULL)
    assert _summary(rows) == {
        "surgical_robots/robots.csv": ("loaded", 5, 5, 0, 0),
        "robot_maintenance_logs/maintenance_2025-Q1.csv": ("loaded", 3, 3, 0, 0),
        "robot_maintenance_logs/maintenance_2025-Q2.csv": ("loaded", 3, 3, 0, 0),
    }
    assert all(r["unknown_columns"] == [] for r in rows.values())
    assert lake.query("SELECT maintenance_id, parts_replaced, failure_mode FROM robot_maintenance_logs"
                      " WHERE maintenance_id IN ('MAINT-000401', 'MAINT-001403') ORDER BY 1") == [
        ("MAINT-000401", "instrument arm motor", "arm 2 motor overheating"),
        ("MAINT-001403", "battery backup", None)]


def test_07_a_json_array_and_firehose_concatenated_records_are_records(lake):
    # GIVEN a pretty-printed JSON array of three outcomes and two outcomes concatenated on one line
    rows = ingest_case(lake, "07-json-array-and-concatenated")
    # THEN counts are records, not lines, and every record loads
    assert _summary(rows) == {
        "surgical_robots/robots.csv": ("loaded", 5, 5, 0, 0),
        "surgical_procedures/procedures_2025-01.csv": ("loaded", 3, 3, 0, 0),
        "procedure_outcomes/outcomes_2025-01.json": ("loaded", 3, 3, 0, 0),
        "procedure_outcomes/outcomes_2025-01-firehose.json": ("loaded", 2, 2, 0, 0),
    }
    assert lake.query("SELECT outcome_id, procedure_id, src_key FROM procedure_outcomes ORDER BY 1") == [
        ("OUT-000701", "PROC-000101", "procedure_outcomes/outcomes_2025-01.json"),
        ("OUT-000702", "PROC-000102", "procedure_outcomes/outcomes_2025-01.json"),
        ("OUT-000703", "PROC-000103", "procedure_outcomes/outcomes_2025-01.json"),
        ("OUT-000710", "PROC-000101", "procedure_outcomes/outcomes_2025-01-firehose.json"),
        ("OUT-000711", "PROC-000102", "procedure_outcomes/outcomes_2025-01-firehose.json"),
    ]


def test_07_a_bad_record_in_a_json_array_is_quarantined_at_the_line_where_it_starts(lake):
    # GIVEN the array with its second record's blood loss out of range (the record starts on line 14)
    raw = (CASES / "07-json-array-and-concatenated/input/procedure_outcomes/outcomes_2025-01.json").read_text()
    lines = raw.splitlines(keepends=True)
    assert lines[13].strip() == "{" and '"OUT-000702"' in lines[14]
    lines[19] = lines[19].replace("120.0", "12000.0")
    assert '"blood_loss_ml": 12000.0' in lines[19]
    for key, body in _files("07-json-array-and-concatenated")[:2]:
        lake.ingest(key, body)
    # WHEN ingested
    lake.ingest("procedure_outcomes/outcomes_2025-01.json", "".join(lines))
    # THEN one record is rejected, at line 14, and the other two load
    [reject] = lake.quarantine_lines("procedure_outcomes/procedure_outcomes/outcomes_2025-01.json.rejects.ndjson")
    assert (reject["line"], reject["reasons"]) == (14, ["out_of_range"])
    assert lake.query("SELECT outcome_id FROM procedure_outcomes ORDER BY 1") == [("OUT-000701",), ("OUT-000703",)]


def test_10_an_integer_beyond_64_bits_rejects_its_row_and_the_rest_loads(lake):
    # GIVEN telemetry whose second line has arm_id = 18446744073709551615 (a uint64 sentinel)
    rows = ingest_case(lake, "10-huge-integer")
    # THEN that row alone is bad_type; the file's other samples and the next file load
    assert _summary(rows) == {
        "surgical_robots/robots.csv": ("loaded", 5, 5, 0, 0),
        "procedure_telemetry/telemetry_2025-01-06.ndjson": ("partial", 3, 2, 0, 1),
        "procedure_telemetry/telemetry_2025-01-07.ndjson": ("loaded", 2, 2, 0, 0),
    }
    [reject] = lake.quarantine_lines(
        "procedure_telemetry/procedure_telemetry/telemetry_2025-01-06.ndjson.rejects.ndjson")
    assert (reject["line"], reject["reasons"], reject["row"]["arm_id"]) == (2, ["bad_type"], "18446744073709551615")
    loaded = sorted(k for k in lake.keys(lake.processed, "procedure_telemetry/"))
    assert sum(lake.parquet(k).num_rows for k in loaded) == 4


def test_12_a_timestamp_that_leaves_the_calendar_in_utc_is_bad_timestamp_and_z_loads(lake):
    # GIVEN completed_at = 9999-12-31T23:59:59-05:00 (10000-01-01 in UTC) in Q1, the same with Z in Q2
    rows = ingest_case(lake, "12-sentinel-9999-offset")
    # THEN the offset one is rejected bad_timestamp, the rest of Q1 loads, and Z is representable
    assert _summary(rows) == {
        "surgical_robots/robots.csv": ("loaded", 5, 5, 0, 0),
        "robot_maintenance_logs/maintenance_2025-Q1.csv": ("partial", 3, 2, 0, 1),
        "robot_maintenance_logs/maintenance_2025-Q2.csv": ("loaded", 1, 1, 0, 0),
    }
    [reject] = lake.quarantine_lines(
        "robot_maintenance_logs/robot_maintenance_logs/maintenance_2025-Q1.csv.rejects.ndjson")
    assert (reject["line"], reject["reasons"], reject["row"]["maintenance_id"]) == (3, ["bad_timestamp"],
                                                                                    "MAINT-001202")
    assert lake.query("SELECT completed_at FROM robot_maintenance_logs WHERE maintenance_id = 'MAINT-001211'") == [
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),)]


def test_13_gzip_with_trailing_zero_padding_loads(lake):
    # GIVEN gzipped CSVs followed by zero bytes (which gzip -t and Python's gzip accept)
    for name in ("surgical_robots/robots.csv.gz", "robot_maintenance_logs/maintenance_2025-Q1.csv.gz"):
        assert (CASES / "13-gzip-zero-padding/input" / name).read_bytes().endswith(b"\x00")
    rows = ingest_case(lake, "13-gzip-zero-padding")
    # THEN both load in full
    assert _summary(rows) == {
        "surgical_robots/robots.csv.gz": ("loaded", 5, 5, 0, 0),
        "robot_maintenance_logs/maintenance_2025-Q1.csv.gz": ("loaded", 1, 1, 0, 0),
    }


def test_every_case_folder_has_a_test():
    tested = {"02-mac-cr-line-endings", "04-header-case-optional-columns", "07-json-array-and-concatenated",
              "10-huge-integer", "12-sentinel-9999-offset", "13-gzip-zero-padding"}
    assert {p.name for p in Path(CASES).iterdir() if p.is_dir()} == tested


def test_04_unknown_column_names_reach_the_ledger_and_the_metric_never_their_values(lake, capsys):
    # GIVEN the Q1 maintenance file with two columns the contract lacks (values that could be PHI)
    raw = (CASES / "04-header-case-optional-columns/input/robot_maintenance_logs/maintenance_2025-Q1.csv").read_text()
    lines = raw.splitlines()
    lines[0] += ",Ward, Patient Notes "
    lines[1:] = [line + ",4 West,allergic to latex" for line in lines[1:]]
    lake.ingest("surgical_robots/robots.csv", (CASES / "04-header-case-optional-columns/input/surgical_robots/"
                                               "robots.csv").read_bytes())
    capsys.readouterr()
    # WHEN ingested
    assert lake.ingest("robot_maintenance_logs/m.csv", "\n".join(lines) + "\n") == {"batchItemFailures": []}
    # THEN the rows load, the ledger names the extra columns, the metric counts them, no value is anywhere
    row = {r["object_key"]: r for r in lake.ledger()}["robot_maintenance_logs/m.csv"]
    assert (row["status"], row["rows_loaded"], row["unknown_columns"]) == ("loaded", 3, ["Patient Notes", "Ward"])
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    assert [m["robot_maintenance_logs.UnknownColumns"] for m in emf] == [[2.0]]
    assert "latex" not in out and "4 West" not in out

"""Reader and validator on hand-written bytes: line numbers, malformed rows, types, reasons, duplicates."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pytest

from lake.contract import ENTITIES
from lambdas.ingest import reader, source
from lambdas.ingest.errors import ObjectRejected
from lambdas.ingest.routing import Format
from lambdas.ingest.seen_keys import SeenKeys
from lambdas.ingest.validate import validate
from tests.lambdas.ingest.samples import OUTCOME_HEADER, ROBOT_HEADER, ndjson, outcome, robot, telemetry

TELEMETRY = ENTITIES["procedure_telemetry"]
ROBOTS = ENTITIES["surgical_robots"]


def _read(data: bytes, entity, fmt, block_bytes=reader.BLOCK_BYTES):
    batches = list(reader.read(iter([data]), entity, fmt, block_bytes))
    rows = [r for b in batches for r in b.table.to_pylist()]
    lines = [int(n) for b in batches for n in b.lines]
    malformed = sorted(n for b in batches for n in b.malformed)
    return rows, lines, malformed


def test_ndjson_lines_blank_lines_malformed_lines_and_extra_fields():
    # GIVEN NDJSON with a blank line, CRLF endings, a cut-off line, a JSON array and an unknown field
    text = (json.dumps({**telemetry(1), "patient_name": "X"}) + "\r\n\r\n"
            + '{"telemetry_id": "abc", "arm_id": \n' + "[1, 2]\n" + json.dumps(telemetry(2)) + "\n")
    # WHEN read
    rows, lines, malformed = _read(text.encode(), TELEMETRY, Format.NDJSON)
    # THEN rows keep their physical line numbers, bad lines are rows of their own, extra fields vanish
    assert lines == [1, 5] and malformed == [3, 4]
    assert [r["telemetry_id"][-1] for r in rows] == ["1", "2"]
    assert all("patient_name" not in r for r in rows)


def test_csv_quoted_line_break_is_quarantined_line_by_line_and_the_next_row_loads():
    # GIVEN a CSV record whose quoted field holds a line break (the documented limit)
    fields = robot(1).split(",")
    fields[5] = '"Main\nCampus"'
    text = "\n".join([ROBOT_HEADER, ",".join(fields), robot(2)]) + "\n"
    # WHEN read
    rows, lines, malformed = _read(text.encode(), ROBOTS, Format.CSV)
    # THEN both physical lines of that record are malformed rows and the next record loads
    assert malformed == [2, 3] and lines == [4] and rows[0]["robot_id"] == "ROBOT-0002"


def test_ndjson_block_with_extra_fields_is_parsed_whole_without_them():
    # GIVEN 300 lines, every tenth with fields outside the contract (PHI a hospital adds)
    lines = [json.dumps({**telemetry(i), **({"patient_name": "X", "mrn": 7} if i % 10 == 0 else {})})
             for i in range(300)]
    # WHEN read in one block
    batches = list(reader.read(iter([("\n".join(lines) + "\n").encode()]), TELEMETRY, Format.NDJSON))
    # THEN Arrow parsed the block in one piece (the strict attempt failed, the lenient one skipped
    # the extra fields): every row is there, none malformed, no extra field anywhere
    assert len(batches) == 1 and batches[0].table.num_rows == 300 and batches[0].malformed == []
    assert batches[0].table.column_names == list(TELEMETRY.column_names)


def test_ndjson_bisection_across_small_blocks_keeps_every_line_accounted_for():
    # GIVEN 500 telemetry lines with a wrongly typed value and a malformed line, read in tiny blocks
    lines = [json.dumps(telemetry(i)) for i in range(500)]
    lines[123] = json.dumps(telemetry(123, arm_id="two"))
    lines[400] = "{not json"
    # WHEN read 4 KB at a time
    rows, numbers, malformed = _read(("\n".join(lines) + "\n").encode(), TELEMETRY, Format.NDJSON, 4096)
    # THEN 499 rows with their own line numbers, line 401 malformed, the typed-wrong value kept as text
    assert malformed == [401] and len(rows) == 499
    assert numbers == [n for n in range(1, 501) if n != 401]
    assert rows[123]["arm_id"] == "two"


def test_csv_wrong_field_counts_blank_lines_quotes_and_unknown_columns():
    # GIVEN a CSV with an extra (PHI) column, a quoted comma, a blank line and rows of wrong width
    header = ROBOT_HEADER + ",patient_ssn"
    body = "\n".join([header, robot(1) + ",123-45-6789", "", robot(2) + ",1,extra", "ROBOT-0003,short",
                      robot(4).replace("General Hospital", '"General, Hospital"') + ",x"]) + "\n"
    # WHEN read
    rows, lines, malformed = _read(body.encode(), ROBOTS, Format.CSV)
    # THEN header is line 1, the blank line counts as a line but not a row, bad widths are malformed
    assert lines == [2, 6] and malformed == [4, 5]
    assert rows[1]["facility_name"] == "General, Hospital"
    assert all("patient_ssn" not in r for r in rows)


def test_csv_missing_required_header_column_rejects_the_object():
    with pytest.raises(ObjectRejected) as err:
        _read(b"robot_id,model\nROBOT-0001,Xi\n", ROBOTS, Format.CSV)
    assert err.value.reason == "missing_columns"


def test_gzip_multi_member_streams_and_truncation_is_rejected():
    # GIVEN two gzip members concatenated (as `cat a.gz b.gz` makes) and a truncated stream
    data = gzip.compress(b"line1\n") + gzip.compress(b"line2\n")
    # WHEN decompressed in 3-byte chunks THEN both members come out
    chunks = [data[i:i + 3] for i in range(0, len(data), 3)]
    assert b"".join(source.decompressed_chunks(iter(chunks), gzip=True)) == b"line1\nline2\n"
    with pytest.raises(ObjectRejected):
        list(source.decompressed_chunks(iter([gzip.compress(b"x" * 1000)[:-10]]), gzip=True))


def _validate(entity, text: str, fmt=Format.CSV, seen=None):
    [batch] = list(reader.read(iter([text.encode()]), entity, fmt))
    return validate(batch.table, batch.lines, entity, seen or SeenKeys())


def test_timestamps_with_offsets_are_utc_and_naive_means_utc():
    # GIVEN the same instant written four ways, and two impossible timestamps
    stamps = ["2025-03-03T10:00:00+02:00", "2025-03-03T08:00:00Z", "2025-03-03 08:00:00", "2025-03-03T03:00:00-0500",
              "2025-02-30T10:00:00Z", "03/03/2025 08:00"]
    rows = [telemetry(i, ts=s) for i, s in enumerate(stamps)]
    # WHEN validated
    v = _validate(TELEMETRY, ndjson(rows), Format.NDJSON)
    # THEN the first four are 08:00 UTC, the others bad_timestamp (and nothing else)
    assert v.table.column("timestamp").to_pylist()[:4] == [datetime(2025, 3, 3, 8, tzinfo=UTC)] * 4
    assert v.reasons["bad_timestamp"].tolist() == [False] * 4 + [True, True]
    assert set(v.reasons) == {"bad_timestamp"}


def test_each_rule_and_several_reasons_on_one_row():
    # GIVEN outcomes: one clean, one per rule, and one breaking three rules at once
    good = outcome(1, 1)
    rows = [
        good,
        good.replace("OUT-000001", "OUT-000002").replace("150.5", "twelve"),      # bad_type
        good.replace("OUT-000001", "OUT-000003").replace("150.5", "10001"),       # out_of_range
        good.replace("OUT-000001", "OUT-000004").replace(",none,", ",severe,"),   # bad_enum
        good.replace("OUT-000001", "OUT-04"),                                     # bad_pattern
        good.replace("OUT-000001", "OUT-000006").replace(",2,", ",,"),            # missing_required
        good,                                                                     # duplicate_key
        good.replace("OUT-000001", "OUT-000008").replace("true,false", "maybe,false").replace(",none,", ",x,")
        .replace("2025-03-04T09:00:00Z", "yesterday"),                            # three reasons
    ]
    # WHEN validated
    v = _validate(ENTITIES["procedure_outcomes"], OUTCOME_HEADER + "\n" + "\n".join(rows) + "\n")
    # THEN each row carries exactly its reasons
    assert [v.row_reasons(i) for i in range(len(rows))] == [
        [], ["bad_type"], ["out_of_range"], ["bad_enum"], ["bad_pattern"], ["missing_required"],
        ["duplicate_key"], ["bad_type", "bad_timestamp", "bad_enum"]]
    assert v.table.column("blood_loss_ml").to_pylist()[0] == 150.5
    assert v.table.column("recorded_at").to_pylist()[0] == datetime(2025, 3, 4, 9, tzinfo=UTC)



def test_a_nul_character_rejects_its_row_in_csv_and_ndjson():
    # GIVEN robots whose free text holds U+0000: a raw byte in CSV, an escape in NDJSON
    csv_text = ROBOT_HEADER + "\n" + robot(1) + "\n" + robot(2).replace("Xi", "X\x00i") + "\n"
    ndjson_text = "\n".join(json.dumps(dict(zip(ROBOT_HEADER.split(","), row.split(","), strict=True))) for row in (
        robot(3).replace("General Hospital", "General\x00Hospital"), robot(4))) + "\n"
    # WHEN validated
    from_csv, from_ndjson = _validate(ROBOTS, csv_text), _validate(ROBOTS, ndjson_text, Format.NDJSON)
    # THEN exactly the rows holding it are bad_character, the others clean
    assert '\\u0000' in ndjson_text
    assert [from_csv.row_reasons(i) for i in range(2)] == [[], ["bad_character"]]
    assert [from_ndjson.row_reasons(i) for i in range(2)] == [["bad_character"], []]

def test_row_check_and_dates():
    # GIVEN a robot with an impossible install date and one with a valid one
    v = _validate(ROBOTS, ROBOT_HEADER + "\n" + robot(1).replace("2020-01-02", "2020-02-30") + "\n" + robot(2) + "\n")
    # THEN only the first is bad_timestamp and the second is a real date
    assert v.reasons["bad_timestamp"].tolist() == [True, False]
    assert v.table.column("install_date").to_pylist()[1] == date(2020, 1, 3)


def test_duplicates_are_tracked_across_batches_first_occurrence_wins():
    # GIVEN keys seen in an earlier batch of the same object
    seen = SeenKeys()
    first = seen.first_seen(pa.array(["a1", "b2", "a1", None]))
    second = seen.first_seen(pa.array(["c3", "b2", "c3"]))
    # THEN only later occurrences are duplicates (NULL keys are not duplicates)
    assert first.tolist() == [False, False, True, False]
    assert second.tolist() == [False, True, True]
    mixed = seen.first_seen(pa.array(["longer-key", "a1"]))
    assert np.asarray(mixed).tolist() == [False, True]

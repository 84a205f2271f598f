"""Reader and validator on the forms exporters really write: every line ending, gzip as gzip
tools read it, header spellings, JSON arrays and concatenated records, extreme values."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lake.contract import ENTITIES
from lambdas.ingest import reader, source
from lambdas.ingest.errors import ObjectRejected
from lambdas.ingest.routing import Format
from lambdas.ingest.seen_keys import SeenKeys
from lambdas.ingest.validate import validate
from tests.lambdas.ingest.samples import MAINT_HEADER, ROBOT_HEADER, maintenance, ndjson, robot, telemetry

TELEMETRY = ENTITIES["procedure_telemetry"]
ROBOTS = ENTITIES["surgical_robots"]
MAINT = ENTITIES["robot_maintenance_logs"]


def _read(data: bytes, entity, fmt, block_bytes=reader.BLOCK_BYTES, max_line=reader.MAX_LINE_BYTES, chunk=None):
    chunks = [data] if chunk is None else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    batches = list(reader.read(iter(chunks), entity, fmt, block_bytes, max_line))
    rows = [r for b in batches for r in b.table.to_pylist()]
    lines = [int(n) for b in batches for n in b.lines]
    malformed = sorted(n for b in batches for n in b.malformed)
    unknown = set().union(*(b.unknown for b in batches)) if batches else set()
    return rows, lines, malformed, unknown


def _checked(data: bytes, entity, fmt):
    [batch] = [b for b in reader.read(iter([data]), entity, fmt) if b.table.num_rows]
    return validate(batch.table, batch.lines, entity, SeenKeys())


# --- line endings ---------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None, derandomize=True)
@given(endings=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=5, max_size=5),
       chunk=st.integers(1, 64), blank=st.booleans())
def test_lf_crlf_and_cr_alone_all_separate_csv_records_with_the_same_line_numbers(endings, chunk, blank):
    # GIVEN a header and three robots, any mix of line endings, cut into chunks anywhere, maybe a blank line
    lines = [ROBOT_HEADER, robot(1), *([""] if blank else []), robot(2), robot(3).replace("active", "lost")]
    if blank:  # a blank line ends like the one before it ("\r" then "\n" would be one CR LF break)
        endings[2] = endings[1]
    text = "".join(line + endings[i % len(endings)] for i, line in enumerate(lines))
    # WHEN read in small blocks
    rows, numbers, malformed, _ = _read(text.encode(), ROBOTS, Format.CSV, block_bytes=32, chunk=chunk)
    # THEN three records with the physical line numbers an editor shows
    assert [r["robot_id"] for r in rows] == ["ROBOT-0001", "ROBOT-0002", "ROBOT-0003"]
    assert numbers == ([2, 4, 5] if blank else [2, 3, 4]) and malformed == []


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_ndjson_with_each_line_ending(ending):
    text = ending.join(json.dumps(telemetry(i)) for i in range(3)) + ending
    rows, numbers, malformed, _ = _read(text.encode(), TELEMETRY, Format.NDJSON, chunk=7)
    assert numbers == [1, 2, 3] and malformed == [] and len(rows) == 3


# --- gzip -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tail", [b"", b"\0", b"\0" * 1000], ids=["none", "one zero", "a block of zeros"])
def test_gzip_members_and_zero_padding_read_as_gzip_tools_read_them(tail):
    # GIVEN two members, then padding (what tape tools and some gateways append)
    data = gzip.compress(b"line1\n", mtime=0) + gzip.compress(b"line2\n", mtime=0) + tail
    assert gzip.decompress(data) == b"line1\nline2\n"  # what Python's gzip (and gzip -t) accept
    # WHEN decompressed in 5-byte chunks THEN both members come out, the padding is ignored
    chunks = [data[i:i + 5] for i in range(0, len(data), 5)]
    assert b"".join(source.decompressed_chunks(iter(chunks), gzip=True)) == b"line1\nline2\n"


@pytest.mark.parametrize("data", [
    gzip.compress(b"x" * 1000, mtime=0)[:-10],                      # truncated
    b"robot_id\nROBOT-0001\n",                                     # not gzip at all
    gzip.compress(b"x" * 1000, mtime=0)[:20] + b"\xff" * 20,       # corrupt deflate data
    gzip.compress(b"line1\n", mtime=0) + b"\0\0garbage",           # padding, then no gzip member
], ids=["truncated", "plain text", "corrupt", "garbage after padding"])
def test_damaged_gzip_is_bad_compression_not_not_utf8(data):
    with pytest.raises(ObjectRejected) as err:
        list(source.decompressed_chunks(iter([data]), gzip=True))
    assert err.value.reason == "bad_compression"


def test_decompressed_content_over_the_limit_is_too_large():
    bomb = gzip.compress(b"\n" * 100_000, mtime=0)
    assert len(bomb) < 1000
    with pytest.raises(ObjectRejected) as err:
        list(source.decompressed_chunks(iter([bomb]), gzip=True, max_bytes=50_000))
    assert err.value.reason == "too_large" and "50000 bytes" in err.value.detail


# --- headers --------------------------------------------------------------------------------------

def test_header_cells_match_case_insensitively_and_trimmed_unknown_names_are_reported():
    # GIVEN a header in mixed case with spaces, an extra `Ward` column and a trailing empty cell
    cells = [f" {c.upper()} " if i % 2 else c.title() for i, c in enumerate(MAINT_HEADER.split(","))]
    text = ",".join([*cells[:3], " Ward ", *cells[3:], ""]) + "\n"
    fields = maintenance(1).split(",")
    text += ",".join([*fields[:3], "4 West", *fields[3:], ""]) + "\n"
    # WHEN read
    rows, numbers, malformed, unknown = _read(text.encode(), MAINT, Format.CSV)
    # THEN every contract column has its value, the extra one is named (not read), the empty cell ignored
    assert numbers == [2] and malformed == [] and unknown == {"Ward"}
    assert rows[0]["parts_replaced"] == "arm;cable" and rows[0]["maintenance_id"] == "MAINT-000001"
    assert "4 West" not in json.dumps(rows)


@pytest.mark.parametrize(("header", "detail"), [
    ("robot_id,Robot_ID," + ROBOT_HEADER.split(",", 1)[1], "robot_id"),
    (ROBOT_HEADER + ", STATUS", "status"),
    (ROBOT_HEADER + ",notes,Notes", "notes"),
])
def test_two_cells_naming_one_column_reject_the_object(header, detail):
    with pytest.raises(ObjectRejected) as err:
        _read((header + "\n" + robot(1) + "\n").encode(), ROBOTS, Format.CSV)
    assert (err.value.reason, err.value.detail) == ("duplicate_columns", detail)


def test_a_header_cell_over_128_kib_is_an_unknown_column_not_an_exception():
    # GIVEN a header cell longer than the csv module's field limit (item 8)
    huge = "x" * (130 * 1024)
    text = f"{ROBOT_HEADER},{huge}\n{robot(1)},1\n"
    rows, numbers, malformed, unknown = _read(text.encode(), ROBOTS, Format.CSV)
    assert numbers == [2] and malformed == [] and unknown == {huge}


def test_a_header_without_a_required_column_names_what_is_missing():
    with pytest.raises(ObjectRejected) as err:
        _read(b"robot_id,model\nROBOT-0001,Xi\n", ROBOTS, Format.CSV)
    assert err.value.reason == "missing_columns" and err.value.detail.startswith("serial_number, manufacturer")


# --- JSON shapes ----------------------------------------------------------------------------------

RECORDS = [telemetry(i, arm_id=1 + i % 4) for i in range(5)]


@pytest.mark.parametrize(("text", "starts"), [
    (ndjson(RECORDS), [1, 2, 3, 4, 5]),
    ("".join(json.dumps(r) for r in RECORDS), [1, 1, 1, 1, 1]),                              # Firehose
    ("\n".join(json.dumps(r) + json.dumps(r).replace('"telemetry_id": "0', '"telemetry_id": "1')
               for r in RECORDS[:2]) + "\n", [1, 1, 2, 2]),                                   # two per line
    (json.dumps(RECORDS), [1, 1, 1, 1, 1]),                                                   # one-line array
    (json.dumps(RECORDS, indent=2), [2, 15, 28, 41, 54]),                                     # pretty array
    ("\n".join(json.dumps(r, indent=1) for r in RECORDS), [1, 14, 27, 40, 53]),               # pretty objects
    ("[\r\n" + ",\r\n".join(json.dumps(r) for r in RECORDS) + "\r\n]", [2, 3, 4, 5, 6]),      # array, CRLF
], ids=["ndjson", "concatenated", "two-per-line", "array-one-line", "array-pretty", "objects-pretty",
        "array-crlf"])
@pytest.mark.parametrize("block_bytes", [64, reader.BLOCK_BYTES])
def test_json_records_in_any_shape_count_as_records_at_the_line_they_start(text, starts, block_bytes):
    rows, numbers, malformed, _ = _read(text.encode(), TELEMETRY, Format.NDJSON, block_bytes=block_bytes, chunk=50)
    assert malformed == [] and numbers == starts
    assert len(rows) == len(starts)


def test_a_broken_record_in_an_array_is_one_malformed_row_and_its_neighbours_load():
    # GIVEN a pretty array whose third record lost its closing quote, and a scalar element
    items = [json.dumps(r, indent=2) for r in RECORDS[:4]]
    items[2] = items[2].replace('"robot_id": "ROBOT-0001"', '"robot_id": "ROBOT-0001')
    text = "[\n" + ",\n".join([*items, "42"]) + "\n]\n"
    # WHEN read
    rows, numbers, malformed, _ = _read(text.encode(), TELEMETRY, Format.NDJSON)
    # THEN the broken record and the scalar are malformed at their first lines; the others load
    line_of = [1 + text[:text.index(item)].count("\n") for item in items]
    assert malformed == [line_of[2], text.count("\n") - 1] and numbers == [line_of[0], line_of[1], line_of[3]]
    assert len(rows) == 3


def test_unknown_json_keys_are_named_whatever_path_parsed_them():
    # GIVEN many records carrying extra keys (Arrow's lenient path) and one slow-path line
    lines = [json.dumps({**telemetry(i), "Ward": "4 West", "mrn": "MRN1"}) for i in range(100)]
    lines.append(json.dumps({**telemetry(100, arm_id="two"), "Bed": 3}))
    rows, _, _, unknown = _read(("\n".join(lines) + "\n").encode(), TELEMETRY, Format.NDJSON)
    assert unknown == {"Ward", "mrn", "Bed"} and len(rows) == 101
    assert "4 West" not in json.dumps(rows)


def test_a_json_line_nested_thousands_deep_is_one_malformed_row():
    # GIVEN a line nested 5000 levels (json raises RecursionError) between two good ones (item 8)
    deep = '{"telemetry_id": ' + "[" * 5000 + "]" * 5000 + "}"
    text = ndjson([telemetry(1), deep, telemetry(2)])
    rows, numbers, malformed, _ = _read(text.encode(), TELEMETRY, Format.NDJSON)
    assert numbers == [1, 3] and malformed == [2]


def test_lines_longer_than_the_limit_are_malformed_rows_and_reading_goes_on():
    # GIVEN a 5000-byte line among good ones, within a block and across blocks, with a 1000-byte limit
    long = json.dumps({**telemetry(9), "pad": "y" * 5000})
    text = ndjson([telemetry(1), long, telemetry(2), long, telemetry(3)])
    for block_bytes in (300, reader.BLOCK_BYTES):
        _, numbers, malformed, _ = _read(text.encode(), TELEMETRY, Format.NDJSON, block_bytes, 1000, chunk=256)
        assert (numbers, malformed) == ([1, 3, 5], [2, 4])
    with pytest.raises(ObjectRejected) as err:  # a CSV header longer than the limit cannot be read
        _read((ROBOT_HEADER + "," + "z" * 2000 + "\n" + robot(1) + "\n").encode(), ROBOTS, Format.CSV, max_line=1000)
    assert err.value.reason == "too_large"


# --- extreme values -------------------------------------------------------------------------------

def test_numbers_beyond_64_bits_or_double_or_32_bit_columns_are_row_rejects():
    # GIVEN arm_id as a uint64 sentinel (JSON number and CSV text), beyond int32, and an overflowing float
    rows = [telemetry(1, arm_id=18446744073709551615), telemetry(2, arm_id="99999999999"),
            telemetry(3, force_newtons="1e400"), telemetry(4), '{"telemetry_id": "x", "latency_ms": 1e400}']
    v = _checked(ndjson(rows).encode(), TELEMETRY, Format.NDJSON)
    # THEN bad_type beyond 64 bits, out_of_range beyond the column (and int32), infinity out_of_range
    assert [v.row_reasons(i) for i in range(4)] == [["bad_type"], ["out_of_range"], ["out_of_range"], []]
    assert "out_of_range" in v.row_reasons(4)


def test_timestamps_that_leave_years_1_to_9999_in_utc_are_bad_timestamp():
    stamps = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59Z",
              "0001-01-01T00:00:00Z", "2262-04-12T00:00:00Z", "0000-01-01T00:00:00Z"]
    v = _checked(ndjson([telemetry(i, ts=s) for i, s in enumerate(stamps)]).encode(), TELEMETRY, Format.NDJSON)
    assert [v.row_reasons(i) for i in range(6)] == [["bad_timestamp"], ["bad_timestamp"], [], [], [],
                                                     ["bad_timestamp"]]
    assert v.table.column("timestamp").to_pylist()[2:5] == [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
        datetime(2262, 4, 12, tzinfo=UTC)]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(ending=st.sampled_from(["\n", "\r\n", "\r"]), chunk=st.integers(1, 400), long_at=st.integers(0, 4),
       long_size=st.integers(1001, 3000))
def test_over_long_lines_anywhere_cost_one_row_each_whatever_the_chunking(ending, chunk, long_at, long_size):
    # GIVEN five lines, one of them longer than the 1000-byte limit, any line ending, chunks of any size
    lines = [json.dumps(telemetry(i)) for i in range(5)]
    lines[long_at] = json.dumps({**telemetry(long_at), "pad": "p" * long_size})
    text = ending.join(lines) + ending
    # WHEN read in blocks smaller than the long line
    _, numbers, malformed, _ = _read(text.encode(), TELEMETRY, Format.NDJSON, 512, 1000, chunk=chunk)
    # THEN exactly that line is malformed and every other keeps its number
    assert malformed == [long_at + 1]
    assert numbers == [n for n in range(1, 6) if n != long_at + 1]


def test_dates_arrow_parses_but_no_calendar_holds_are_bad_timestamp():
    # GIVEN install dates of year 0 (Arrow parses it; Python, Parquet readers and JSON lines cannot hold it)
    text = "\n".join([ROBOT_HEADER, robot(1).replace("2020-01-02", "0000-01-01"), robot(2)]) + "\n"
    v = _checked(text.encode(), ROBOTS, Format.CSV)
    assert [v.row_reasons(i) for i in range(2)] == [["bad_timestamp"], []]
    assert v.table.column("install_date").to_pylist()[0] is None

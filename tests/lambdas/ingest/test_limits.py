"""Bounded resources: object size, line length and quarantine spool from the configuration, and
memory that does not grow with a JSON document's size, whatever its shape."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Iterator

import pytest

from lake.contract import ENTITIES
from lambdas.ingest import reader, source
from lambdas.ingest.routing import Format
from tests.lambdas.ingest.samples import OUTCOME_HEADER, csv_file, ndjson, outcome, telemetry


@pytest.fixture
def small_limits(monkeypatch):
    """Limits a test can exceed cheaply (read by the handler when it first builds its config)."""
    monkeypatch.setenv("INGEST_MAX_OBJECT_BYTES", "4000")
    monkeypatch.setenv("INGEST_MAX_LINE_BYTES", "600")
    monkeypatch.setenv("INGEST_MAX_QUARANTINE_BYTES", "1500")


def _row(lake, key):
    [row] = [r for r in lake.ledger() if r["object_key"] == key]
    return row


def test_an_object_over_the_size_limit_is_rejected_unread_with_the_limit_in_the_reason(lake, small_limits,
                                                                                      monkeypatch):
    # GIVEN 5000 bytes of telemetry, over the 4000-byte limit, and a body nobody may read
    key = "procedure_telemetry/big.ndjson"
    body = ndjson([telemetry(i) for i in range(20)])
    assert len(body) > 4000
    reads = []
    real = source.raw_chunks
    monkeypatch.setattr(source, "raw_chunks", lambda *a: reads.append(a) or real(*a))
    # WHEN handled
    assert lake.ingest(key, body) == {"batchItemFailures": []}
    # THEN it is rejected too_large before a byte is read, once, and the ledger says which limit
    row = _row(lake, key)
    assert (row["status"], row["error"], row["rows_in"], row["attempts"]) == ("rejected", "too_large", 0, 1)
    assert row["error_detail"] == (f"{len(body.encode())} bytes; the limit is 4000 bytes "
                                   "(INGEST_MAX_OBJECT_BYTES, cdk.json ingest_max_object_mb)")
    assert reads == []


def test_a_small_gzip_that_inflates_past_the_limit_is_too_large(lake, small_limits):
    key = "procedure_telemetry/bomb.ndjson.gz"
    body = gzip.compress(ndjson([telemetry(i) for i in range(40)]).encode(), mtime=0)
    assert len(body) < 4000
    assert lake.ingest(key, body) == {"batchItemFailures": []}
    row = _row(lake, key)
    assert (row["status"], row["error"], row["rows_in"]) == ("rejected", "too_large", 0)
    assert "once decompressed" in row["error_detail"]
    assert lake.keys(lake.processed) == []


def test_a_line_over_the_line_limit_is_one_malformed_row(lake, small_limits):
    key = "procedure_telemetry/long.ndjson"
    body = ndjson([telemetry(1), {**telemetry(2), "note": "n" * 700}, telemetry(3)])
    assert lake.ingest(key, body) == {"batchItemFailures": []}
    row = _row(lake, key)
    assert (row["status"], row["rows_in"], row["rows_loaded"], row["rows_rejected"]) == ("partial", 3, 2, 1)
    assert lake.quarantine_lines(f"procedure_telemetry/{key}.rejects.ndjson") == [
        {"source_key": key, "line": 2, "reasons": ["malformed_row"], "row": None}]


def test_quarantine_spools_at_most_the_limit_then_counts(lake, small_limits):
    # GIVEN 20 outcomes, all out of range: their reject lines would far exceed the 1500-byte spool limit
    key = "procedure_outcomes/bad.csv"
    body = csv_file(OUTCOME_HEADER, [outcome(i, i).replace("150.5", "-1") for i in range(1, 21)])
    assert lake.ingest(key, body) == {"batchItemFailures": []}
    # THEN the ledger counts all 20; the file itemizes the first ones and one last line counts the rest
    row = _row(lake, key)
    assert (row["status"], row["rows_in"], row["rows_rejected"]) == ("rejected", 20, 20)
    lines = lake.quarantine_lines(f"procedure_outcomes/{key}.rejects.ndjson")
    *itemized, summary = lines
    assert 0 < len(itemized) < 20 and [r["line"] for r in itemized] == list(range(2, 2 + len(itemized)))
    assert summary == {"source_key": key, "line": None, "reasons": ["out_of_range"], "row": None,
                       "omitted_rows": 20 - len(itemized), "omitted_reasons": {"out_of_range": 20 - len(itemized)}}
    assert sum(len(json.dumps(r)) + 1 for r in itemized[:-1]) < 1500


# --- memory: a JSON array of any size is never held whole -----------------------------------------

RECORD = json.dumps(telemetry(1)).encode()


def _array_chunks(total_bytes: int, chunk: int = 1 << 20, pretty: bool = False) -> Iterator[bytes]:
    """A JSON array of telemetry records, produced chunk by chunk (never whole in memory)."""
    sep = b",\n  " if pretty else b","
    unit = RECORD + sep
    per_chunk = max(1, chunk // len(unit))
    yield b"["
    sent = 1
    while sent < total_bytes:
        yield unit * per_chunk
        sent += len(unit) * per_chunk
    yield RECORD + b"]"


def _peak_reading(total: int, pretty: bool, block: int) -> tuple[int, int]:
    """(records read, peak bytes Python allocated meanwhile, numpy included) for an array of `total` bytes."""
    tracemalloc.start()
    try:
        rows = sum(batch.table.num_rows for batch in reader.read(
            _array_chunks(total, chunk=block, pretty=pretty), ENTITIES["procedure_telemetry"], Format.NDJSON,
            block_bytes=block))
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("pretty", [False, True], ids=["one line", "pretty"])
def test_reading_a_json_array_keeps_memory_bounded_whatever_its_size(pretty):
    # GIVEN JSON arrays of 4 MB and 16 MB (on one line, or pretty-printed) read in 512 KB blocks
    block = 512 << 10
    small_rows, small_peak = _peak_reading(4 << 20, pretty, block)
    rows, peak = _peak_reading(16 << 20, pretty, block)
    # THEN every record is read, and the peak does not grow with the document: it is a multiple of
    # the block (the numpy scan holds a few arrays of the block's structural characters)
    unit = len(RECORD) + (4 if pretty else 1)
    assert rows > (16 << 20) // unit and small_rows > (4 << 20) // unit
    assert peak < 1.25 * small_peak, f"{peak / 2**20:.1f} MB for 16 MB vs {small_peak / 2**20:.1f} MB for 4 MB"
    assert peak < 32 * block

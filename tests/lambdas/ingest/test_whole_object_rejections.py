"""Objects that cannot be read at all: quarantined whole with a reason, recorded, never looping."""

from __future__ import annotations

import gzip

import pytest

from lambdas.ingest.errors import ObjectRejected
from lambdas.ingest.routing import Format, route
from tests.lambdas.ingest.events import load_event, sqs_batch
from tests.lambdas.ingest.samples import ROBOT_HEADER, csv_file, robot


@pytest.mark.parametrize(("key", "entity", "fmt", "gz"), [
    ("surgical_robots/a.csv", "surgical_robots", Format.CSV, False),
    ("procedure_telemetry/day/2025-01-01.ndjson.gz", "procedure_telemetry", Format.NDJSON, True),
    ("procedure_outcomes/x.JSONL", "procedure_outcomes", Format.NDJSON, False),
    ("robot_maintenance_logs/m.json", "robot_maintenance_logs", Format.NDJSON, False),
])
def test_route_names_entity_format_and_compression(key, entity, fmt, gz):
    # GIVEN a key WHEN routed THEN its first segment and extensions decide
    r = route(key)
    assert (r.entity.name, r.format, r.gzip) == (entity, fmt, gz)


@pytest.mark.parametrize(("key", "reason"), [
    ("patients/a.csv", "unknown_entity"),
    ("surgical_robots", "unknown_entity"),
    ("surgical_robots/a.xlsx", "unknown_format"),
    ("surgical_robots/a.csv.zip", "unknown_format"),
    ("surgical_robots/.csv", "unknown_format"),
])
def test_route_rejects_unknown_entities_and_formats(key, reason):
    # GIVEN a key no entity or format matches WHEN routed THEN the whole-object reason says why
    with pytest.raises(ObjectRejected) as err:
        route(key)
    assert err.value.reason == reason


@pytest.mark.parametrize(("key", "body", "reason", "qprefix"), [
    ("lab_results/r.csv", b"a,b\n1,2\n", "unknown_entity", "_unrouted"),
    ("surgical_robots/r.parquet", b"PAR1", "unknown_format", "surgical_robots"),
    ("surgical_robots/empty.csv", b"", "empty_object", "surgical_robots"),
    ("surgical_robots/header_only.csv", (ROBOT_HEADER + "\n").encode(), "empty_object", "surgical_robots"),
    ("procedure_telemetry/blank.ndjson", b"\n \n\n", "empty_object", "procedure_telemetry"),
    ("surgical_robots/latin1.csv", csv_file(ROBOT_HEADER, [robot(1) + "\xe9"]).encode("latin-1"), "not_utf8",
     "surgical_robots"),
    ("surgical_robots/broken.csv.gz", gzip.compress(b"robot_id\n", mtime=0)[:-6], "bad_compression",
     "surgical_robots"),
    ("surgical_robots/short_header.csv", b"robot_id,model\nROBOT-0001,Xi\n", "missing_columns", "surgical_robots"),
])
def test_unreadable_objects_are_rejected_whole_recorded_and_not_retried(lake, key, body, reason, qprefix):
    # GIVEN an object that cannot be ingested as a whole
    # WHEN its notification is handled
    response = lake.ingest(key, body)
    # THEN the message succeeds (it would never get better), the ledger says why, quarantine holds a marker
    assert response == {"batchItemFailures": []}
    [row] = lake.ledger()
    assert (row["status"], row["error"], row["rows_in"], row["attempts"]) == ("rejected", reason, 0, 1)
    [marker] = lake.quarantine_lines(f"{qprefix}/{key}.rejects.ndjson")
    assert marker.get("detail") == row["error_detail"]
    assert {k: v for k, v in marker.items() if k != "detail"} == {
        "source_key": key, "line": None, "reasons": [reason], "row": None}
    assert lake.query("SELECT count(*) FROM surgical_robots") == [(0,)]


def test_url_encoded_keys_are_decoded(lake):
    # GIVEN a key with a space and a plus sign (S3 sends `+` for a space and `%2B` for a plus)
    key = "surgical_robots/fleet 2025+v2.csv"
    # WHEN ingested through its notification
    response = lake.ingest(key, csv_file(ROBOT_HEADER, [robot(1)]))
    # THEN the real key was read and recorded
    assert response == {"batchItemFailures": []}
    assert lake.query("SELECT src_key FROM surgical_robots") == [(key,)]


def test_s3_test_event_is_skipped(lake):
    # GIVEN the message S3 sends when notifications are configured
    event = sqs_batch([load_event("s3_test_event.json")])
    # WHEN handled THEN it succeeds and nothing is recorded
    assert lake.invoke(event) == {"batchItemFailures": []}
    assert lake.ledger() == []

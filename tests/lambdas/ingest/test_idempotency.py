"""Replays, duplicate deliveries, identical re-uploads, changed objects and concurrent workers."""

from __future__ import annotations

import threading
import time

import psycopg

from lambdas.ingest import handler, pipeline
from lambdas.ingest.source import ObjectRef
from tests.lambdas.ingest.samples import ROBOT_HEADER, csv_file, ndjson, robot, telemetry

ROBOTS = "surgical_robots/fleet.csv"
TELEMETRY = "procedure_telemetry/2025-03-03.ndjson"


def test_replayed_event_and_duplicate_delivery_load_nothing_twice(lake):
    # GIVEN a robots file and a telemetry file, ingested once
    v_robots = lake.put(ROBOTS, csv_file(ROBOT_HEADER, [robot(1), robot(2)]))["VersionId"]
    v_tel = lake.put(TELEMETRY, ndjson([telemetry(1), telemetry(2)]))["VersionId"]
    first = lake.invoke(lake.event_for(ROBOTS, v_robots))
    lake.invoke(lake.event_for(TELEMETRY, v_tel))
    files = lake.keys(lake.processed)
    # WHEN the same events arrive again, twice in one batch (duplicate delivery) and once later (replay)
    dup = lake.invoke({"Records": lake.event_for(ROBOTS, v_robots)["Records"]
                       + lake.event_for(ROBOTS, v_robots)["Records"]})
    lake.invoke(lake.event_for(TELEMETRY, v_tel))
    # THEN nothing new is written and the ledger counts the skipped replays
    assert first == dup == {"batchItemFailures": []}
    assert lake.query("SELECT count(*) FROM surgical_robots") == [(2,)]
    assert lake.keys(lake.processed) == files
    assert sum(lake.parquet(k).num_rows for k in files) == 2
    ledger = {r["object_key"]: r for r in lake.ledger()}
    assert (ledger[ROBOTS]["attempts"], ledger[ROBOTS]["replays_skipped"]) == (1, 2)
    assert (ledger[TELEMETRY]["attempts"], ledger[TELEMETRY]["replays_skipped"]) == (1, 1)


def test_identical_reupload_is_a_new_version_but_skipped(lake):
    # GIVEN a robots file ingested once
    body = csv_file(ROBOT_HEADER, [robot(1)])
    lake.ingest(ROBOTS, body)
    loaded_at = lake.query("SELECT loaded_at FROM surgical_robots")
    # WHEN the same bytes are uploaded again (a new S3 version in a versioned bucket)
    response = lake.ingest(ROBOTS, body)
    # THEN the object identity (key + checksum) is the same: skipped, row untouched
    assert response == {"batchItemFailures": []}
    versions = lake.s3.list_object_versions(Bucket=lake.raw, Prefix=ROBOTS)["Versions"]
    assert len(versions) == 2
    [row] = lake.ledger()
    assert (row["status"], row["replays_skipped"]) == ("loaded", 1)
    assert lake.query("SELECT loaded_at FROM surgical_robots") == loaded_at


def test_changed_object_under_same_key_is_new_work_and_newer_wins_in_any_order(lake):
    # GIVEN two versions of one key, the second changing ROBOT-0001 (S3 times have 1 s resolution)
    v1 = lake.put(ROBOTS, csv_file(ROBOT_HEADER, [robot(1, status="active"), robot(2)]))["VersionId"]
    time.sleep(1.1)
    v2 = lake.put(ROBOTS, csv_file(ROBOT_HEADER, [robot(1, status="retired")]))["VersionId"]
    # WHEN the newer version is processed first and the older one afterwards
    lake.invoke(lake.event_for(ROBOTS, v2))
    lake.invoke(lake.event_for(ROBOTS, v1))
    # THEN both are recorded as separate work and the newer row stands; ROBOT-0002 (only in v1) loads
    assert [r["status"] for r in lake.ledger()] == ["loaded", "loaded"]
    assert lake.query("SELECT robot_id, status FROM surgical_robots ORDER BY 1") == [
        ("ROBOT-0001", "retired"), ("ROBOT-0002", "active")]


def test_changed_telemetry_object_replaces_its_previous_files(lake):
    # GIVEN telemetry for ROBOT-0001, then a corrected version of the same key for ROBOT-0002
    v1 = lake.put(TELEMETRY, ndjson([telemetry(1, robot_n=1), telemetry(2, robot_n=1)]))["VersionId"]
    time.sleep(1.1)
    v2 = lake.put(TELEMETRY, ndjson([telemetry(3, robot_n=2)]))["VersionId"]
    # WHEN v1 is ingested, then v2
    lake.invoke(lake.event_for(TELEMETRY, v1))
    assert len(lake.keys(lake.processed)) == 1
    lake.invoke(lake.event_for(TELEMETRY, v2))
    # THEN only v2's file remains: v1's file, in a partition v2 does not touch, is gone
    [only] = lake.keys(lake.processed)
    assert only.startswith("procedure_telemetry/date=2025-03-03/robot_id=ROBOT-0002/2025-03-03.ndjson-")
    assert lake.parquet(only).column("telemetry_id").to_pylist() == ["00000000-0000-4000-8000-000000000003"]


def test_older_telemetry_version_arriving_late_is_superseded(lake):
    # GIVEN two versions of a telemetry key
    v1 = lake.put(TELEMETRY, ndjson([telemetry(1, robot_n=1)]))["VersionId"]
    time.sleep(1.1)
    v2 = lake.put(TELEMETRY, ndjson([telemetry(3, robot_n=2)]))["VersionId"]
    # WHEN the newer one is processed first, the older one afterwards
    lake.invoke(lake.event_for(TELEMETRY, v2))
    lake.invoke(lake.event_for(TELEMETRY, v1))
    # THEN the older one writes nothing and is recorded superseded, with nothing read (zero
    # counts, no error) and nothing quarantined; v2's file stands alone
    [only] = lake.keys(lake.processed)
    assert "robot_id=ROBOT-0002" in only
    rows = sorted((r["status"], r["error"], r["rows_in"], r["rows_loaded"]) for r in lake.ledger())
    assert rows == [("loaded", None, 1, 1), ("superseded", None, 0, 0)]
    assert lake.keys(lake.quarantine) == []


def test_two_workers_receiving_the_same_object_at_once_load_it_once(lake, migrated_db):
    # GIVEN an object and two workers (own connections) about to process it while the key is locked
    lake.put(ROBOTS, csv_file(ROBOT_HEADER, [robot(1), robot(2)]))
    deps = handler._deps()
    holder = psycopg.connect(migrated_db, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 7))", (ROBOTS,))
    outcomes: list[str] = []

    def work() -> None:
        with psycopg.connect(migrated_db, autocommit=True) as conn:
            outcomes.append(pipeline.process_object(deps, conn, ObjectRef(lake.raw, ROBOTS)).status)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    # WHEN both have claimed and wait on the lock, and the lock is released
    deadline = time.time() + 10
    while lake.query("SELECT attempts FROM etl.ingest_ledger") != [(2,)] and time.time() < deadline:
        time.sleep(0.05)
    holder.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 7))", (ROBOTS,))
    holder.close()
    for t in threads:
        t.join(10)
    # THEN exactly one loaded it, the other saw it finished and skipped
    assert sorted(outcomes) == ["loaded", "skipped"]
    [row] = lake.ledger()
    assert (row["status"], row["attempts"], row["replays_skipped"], row["rows_loaded"]) == ("loaded", 2, 1, 2)
    assert lake.query("SELECT count(*) FROM surgical_robots") == [(2,)]

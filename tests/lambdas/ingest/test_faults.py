"""Transient failures roll back completely and a retry completes; one poison message fails alone."""

from __future__ import annotations

import psycopg
import pytest

from lambdas.ingest import pipeline, rds_loader
from tests.lambdas.ingest.samples import (
    OUTCOME_HEADER,
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    ndjson,
    outcome,
    procedure,
    robot,
    telemetry,
)

PROCS = "surgical_procedures/procs.csv"


def test_database_outage_mid_load_leaves_nothing_partial_and_the_retry_completes(lake, monkeypatch):
    # GIVEN a robot already loaded, and a procedures file whose load loses its connection after COPY
    lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))
    version = lake.put(PROCS, csv_file(PROC_HEADER, [procedure(1), procedure(2), procedure(3)]))["VersionId"]
    real_load = rds_loader.load_staged

    def outage(conn, *args):
        with psycopg.connect(lake.db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        return real_load(conn, *args)

    monkeypatch.setattr(rds_loader, "load_staged", outage)
    # WHEN the message is handled
    event = lake.event_for(PROCS, version)
    failed = lake.invoke(event)
    # THEN the message is reported failed, nothing of the file is in RDS, and the attempt is
    # recorded failed on a fresh connection (the broken one could not)
    assert failed == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert lake.query("SELECT count(*) FROM surgical_procedures") == [(0,)]
    ledger = {r["object_key"]: r for r in lake.ledger()}
    assert (ledger[PROCS]["status"], ledger[PROCS]["attempts"], ledger[PROCS]["error"]) == (
        "failed", 1, "AdminShutdown")
    # WHEN the database is back and SQS redelivers the message
    monkeypatch.setattr(rds_loader, "load_staged", real_load)
    assert lake.invoke(event) == {"batchItemFailures": []}
    # THEN the load completes once
    assert lake.query("SELECT count(*) FROM surgical_procedures") == [(3,)]
    ledger = {r["object_key"]: r for r in lake.ledger()}
    assert (ledger[PROCS]["status"], ledger[PROCS]["attempts"], ledger[PROCS]["rows_loaded"]) == ("loaded", 2, 3)


def test_s3_failure_while_writing_parquet_removes_this_attempts_files(lake, monkeypatch):
    # GIVEN telemetry spanning two partitions, and S3 failing on the second upload
    key = "procedure_telemetry/2025-03-03.ndjson"
    version = lake.put(key, ndjson([telemetry(1, robot_n=1), telemetry(2, robot_n=2)]))["VersionId"]
    from lambdas.ingest import handler
    deps = handler._deps()
    real_upload = deps.s3.upload_file
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise ConnectionError("S3 went away")
        return real_upload(*args, **kwargs)

    monkeypatch.setattr(deps.s3, "upload_file", flaky)
    event = lake.event_for(key, version)
    # WHEN handled THEN it fails, the ledger says failed with the exception class, no file stays
    assert lake.invoke(event)["batchItemFailures"] != []
    assert lake.keys(lake.processed) == []
    [row] = lake.ledger()
    assert (row["status"], row["error"]) == ("failed", "ConnectionError")
    # WHEN retried with S3 healthy THEN both partitions are written once
    monkeypatch.setattr(deps.s3, "upload_file", real_upload)
    assert lake.invoke(event) == {"batchItemFailures": []}
    assert len(lake.keys(lake.processed)) == 2
    [row] = lake.ledger()
    assert (row["status"], row["attempts"], row["rows_loaded"]) == ("loaded", 2, 2)


def test_an_infrastructure_failure_fails_alone_in_its_batch(lake, monkeypatch):
    # GIVEN a batch: a good robots file, an object whose load loses the network every time, an unroutable one
    good = lake.put("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))["VersionId"]
    poison = lake.put("procedure_outcomes/o.csv", csv_file(OUTCOME_HEADER, [outcome(1, 1)]))["VersionId"]
    odd = lake.put("invoices/i.csv", "a\n1\n")["VersionId"]
    real = pipeline._load

    def network_down_on_outcomes(deps, conn, obj, uploaded, out):
        if obj.ref.key.startswith("procedure_outcomes/"):
            raise ConnectionResetError("the network went away")
        return real(deps, conn, obj, uploaded, out)

    monkeypatch.setattr(pipeline, "_load", network_down_on_outcomes)
    event = {"Records": [lake.event_for("surgical_robots/r.csv", good)["Records"][0],
                         lake.event_for("procedure_outcomes/o.csv", poison)["Records"][0],
                         lake.event_for("invoices/i.csv", odd)["Records"][0]]}
    # WHEN the batch is handled
    response = lake.invoke(event)
    # THEN only that message is reported for retry (and, after maxReceiveCount, the DLQ)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    statuses = {r["object_key"]: (r["status"], r["error"]) for r in lake.ledger()}
    assert statuses == {"surgical_robots/r.csv": ("loaded", None),
                        "procedure_outcomes/o.csv": ("failed", "ConnectionResetError"),
                        "invoices/i.csv": ("rejected", "unknown_entity")}


def test_an_error_the_content_triggers_rejects_the_object_and_is_never_retried(lake, monkeypatch):
    # GIVEN an object whose bytes make the load raise something no rule names (a parser's or a bug's error)
    key = "procedure_outcomes/o.csv"
    version = lake.put(key, csv_file(OUTCOME_HEADER, [outcome(1, 1)]))["VersionId"]
    real = pipeline._load

    def crash(deps, conn, obj, uploaded, out):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pipeline, "_load", crash)
    # WHEN handled
    response = lake.invoke(lake.event_for(key, version))
    # THEN the message succeeds: the object is rejected `unreadable` with the class as detail, once
    assert response == {"batchItemFailures": []}
    [row] = lake.ledger()
    assert (row["status"], row["error"], row["error_detail"], row["attempts"]) == (
        "rejected", "unreadable", "RecursionError", 1)
    assert lake.quarantine_lines(f"procedure_outcomes/{key}.rejects.ndjson") == [
        {"source_key": key, "line": None, "reasons": ["unreadable"], "row": None, "detail": "RecursionError"}]
    monkeypatch.setattr(pipeline, "_load", real)


@pytest.mark.parametrize("body", ["not json", '{"Records": [{"nope": 1}]}'])
def test_a_message_that_is_no_s3_notification_is_reported_failed(lake, body):
    # GIVEN a body that is not an S3 notification WHEN handled THEN it goes back to the queue (then the DLQ)
    from tests.lambdas.ingest.events import sqs_batch
    event = sqs_batch([body])
    assert lake.invoke(event) == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}

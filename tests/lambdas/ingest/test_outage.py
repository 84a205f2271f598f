"""Item 10 of issue 11: PostgreSQL stops mid-load, messages dead-letter, the database returns.

Real SQS semantics (moto: the redrive policy moves a message to the DLQ after maxReceiveCount
receives), the local queue worker as the event source mapping, the real handler and a real
PostgreSQL database that stops accepting connections (and loses the open ones) mid-load.
Afterwards nothing may be lost or stuck: a redrive (or a re-upload) loads every object once,
stale `processing` rows are visible, and no message of a finished object stays in the DLQ.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from lambdas.ingest import pipeline
from lambdas.ingest.events import object_refs
from local.report.ledger_reader import finished_identity, stale_processing
from local.runtime import dead_letters
from local.runtime.queue_worker import QueueWorker
from tests.conftest import allow_connections
from tests.lambdas.ingest.conftest import REGION
from tests.lambdas.ingest.samples import (
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    ndjson,
    procedure,
    robot,
    telemetry,
)

MAX_RECEIVES = 3
FILES = {
    "surgical_robots/r.csv": csv_file(ROBOT_HEADER, [robot(1), robot(2)]),
    "surgical_procedures/p1.csv": csv_file(PROC_HEADER, [procedure(1), procedure(2)]),
    "surgical_procedures/p2.csv": csv_file(PROC_HEADER, [procedure(3, robot_n=2)]),
    "procedure_telemetry/t1.ndjson": ndjson([telemetry(1), telemetry(2)]),
    "procedure_telemetry/t2.ndjson": ndjson([telemetry(3, robot_n=2)]),
}
AFTER_OUTAGE = ["surgical_procedures/p1.csv", "surgical_procedures/p2.csv", "procedure_telemetry/t1.ndjson",
                "procedure_telemetry/t2.ndjson"]


@pytest.fixture
def outage(lake, postgres_server, monkeypatch):
    """The lake's queue with a DLQ after MAX_RECEIVES receives; every file uploaded in order, and
    PostgreSQL stopping in the middle of the first procedures load. Returns (worker, dlq_url)."""
    dlq_url = lake.sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
    dlq_arn = lake.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lake.sqs.set_queue_attributes(QueueUrl=lake.queue_url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})})
    worker = QueueWorker(lake.sqs, lake.queue_url, lake.queue_arn, REGION, lambda event, _: lake.invoke(event),
                         batch_size=1,
                         visibility_timeout=30, retry_delay_seconds=0)
    real_load = pipeline._load

    def load_then_stop(deps, conn, obj, uploaded, outcome):
        if obj.ref.key == "surgical_procedures/p1.csv":
            allow_connections(postgres_server, lake.db_url, allowed=False)
        return real_load(deps, conn, obj, uploaded, outcome)

    monkeypatch.setattr(pipeline, "_load", load_then_stop)
    for key, body in FILES.items():
        lake.put(key, body)
    worker.drain(poll_seconds=0.05)
    monkeypatch.setattr(pipeline, "_load", real_load)
    try:
        yield worker, dlq_url
    finally:
        allow_connections(postgres_server, lake.db_url, allowed=True)


def _ledger(lake) -> dict[str, tuple]:
    return {r["object_key"]: (r["status"], r["attempts"]) for r in lake.ledger()}


def test_after_an_outage_a_redrive_loads_everything_once_and_empties_the_dlq(lake, postgres_server, outage):
    worker, dlq_url = outage
    # GIVEN the outage: every message after it used up its receives and sits in the DLQ
    assert dead_letters.depth(lake.sqs, dlq_url) == len(AFTER_OUTAGE)
    # WHEN the database is back
    allow_connections(postgres_server, lake.db_url, allowed=True)
    # THEN what happened is visible: robots loaded, the load cut off mid-way is `processing` with no
    # attempt running any more (stale once older than the function timeout), the rest never got in
    assert _ledger(lake) == {"surgical_robots/r.csv": ("loaded", 1), "surgical_procedures/p1.csv": ("processing", 1)}
    with psycopg.connect(lake.db_url) as conn:
        assert [r[0] for r in stale_processing(conn, timeout_seconds=0)] == ["surgical_procedures/p1.csv"]
        assert stale_processing(conn, timeout_seconds=300) == []
    assert lake.query("SELECT count(*) FROM surgical_procedures") == [(0,)]
    # WHEN the DLQ is redriven (`lake redrive`; in AWS `aws sqs start-message-move-task`)
    assert dead_letters.redrive(lake.sqs, dlq_url, lake.queue_url) == len(AFTER_OUTAGE)
    worker.drain(poll_seconds=0.05)
    # THEN every object loaded once (the stale row was claimed again), the DLQ and the queue are empty
    ledger = _ledger(lake)
    assert {k: s for k, (s, _) in ledger.items()} == dict.fromkeys(FILES, "loaded")
    assert ledger["surgical_procedures/p1.csv"][1] == 2
    assert lake.query("SELECT count(*) FROM surgical_procedures") == [(3,)]
    assert sum(lake.parquet(k).num_rows for k in lake.keys(lake.processed)) == 3
    assert dead_letters.depth(lake.sqs, dlq_url) == 0 and worker.pending() == 0


def test_after_an_outage_a_re_upload_loads_and_the_dlq_drops_what_loaded(lake, postgres_server, outage):
    worker, dlq_url = outage
    allow_connections(postgres_server, lake.db_url, allowed=True)
    # WHEN the same files are uploaded again (what a repeated `lake run` does) and processed
    for key in AFTER_OUTAGE[:3]:
        lake.put(key, FILES[key])
    worker.drain(poll_seconds=0.05)
    # THEN they load, and the DLQ messages of objects that loaded since are dropped, the others kept
    with psycopg.connect(lake.db_url) as conn:
        dropped = dead_letters.drop_finished(lake.sqs, dlq_url, lambda k, e, v: finished_identity(conn, k, e, v))
    assert dropped == 3 and dead_letters.depth(lake.sqs, dlq_url) == 1
    [left] = lake.sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert [r.key for r in object_refs(left["Body"])] == ["procedure_telemetry/t2.ndjson"]
    assert {k: s for k, (s, _) in _ledger(lake).items()} == dict.fromkeys(
        ["surgical_robots/r.csv", *AFTER_OUTAGE[:3]], "loaded")


def test_an_attempt_that_reaches_the_database_counts_the_receives_that_could_not(lake):
    # GIVEN a message SQS has delivered three times (the first two while the database was away)
    event = lake.event_for("surgical_robots/r.csv", lake.put("surgical_robots/r.csv", FILES["surgical_robots/r.csv"])
                           ["VersionId"])
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "3"
    # WHEN it is handled THEN the ledger's attempts say 3, not 1
    assert lake.invoke(event) == {"batchItemFailures": []}
    assert _ledger(lake) == {"surgical_robots/r.csv": ("loaded", 3)}

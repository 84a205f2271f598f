"""The local stack: resources from the config, and state that survives a restart."""

from __future__ import annotations

import json

import psycopg
import pytest

from infra.config import load_config
from local.exceptions import StackError
from local.stack.local_stack import LocalStack


def test_resources_match_the_config(stack):
    # GIVEN a started stack and the CDK app's config
    cfg = load_config()
    # THEN the queue's redrive policy, visibility timeout and the raw bucket notification come from it
    attrs = stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["maxReceiveCount"] == cfg.ingest_max_receive_count
    assert policy["deadLetterTargetArn"].endswith(":" + cfg.ingest_dlq_name)
    assert int(attrs["VisibilityTimeout"]) == cfg.ingest_queue_visibility_timeout_seconds
    notif = stack.s3.get_bucket_notification_configuration(Bucket=stack.names.buckets["raw"])
    assert notif["QueueConfigurations"][0]["QueueArn"].endswith(":" + cfg.ingest_queue_name)
    # AND the HMAC secret holds the workdir's key, the Glue database and migrations exist
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.hmac_secret_arn)
    assert secret["SecretString"] == stack.workdir.hmac_key() and len(secret["SecretString"]) == 64
    assert stack.glue.get_database(Name=cfg.glue_database)["Database"]["Name"] == cfg.glue_database
    with psycopg.connect(stack.db.url) as conn:
        assert conn.execute("SELECT count(*) FROM etl.ingest_ledger").fetchone() == (0,)


def test_state_survives_restart_without_retriggering_ingest(stack):
    # GIVEN a raw object and a telemetry partition in the buckets, then a stop
    raw, processed = stack.names.buckets["raw"], stack.names.buckets["processed"]
    stack.s3.put_object(Bucket=raw, Key="surgical_robots/r.csv", Body=b"robot_id\nROBOT-0001\n")
    key = "procedure_telemetry/date=2024-03-01/robot_id=ROBOT-0007/f.parquet"
    stack.s3.put_object(Bucket=processed, Key=key, Body=b"PAR1")
    stack.sqs.purge_queue(QueueUrl=stack.queue_url)
    stack.stop()
    # WHEN the same workdir starts again
    again = LocalStack(stack.workdir).start()
    try:
        # THEN the objects are back, the partition is registered again
        body = again.s3.get_object(Bucket=raw, Key="surgical_robots/r.csv")["Body"].read()
        assert body == b"robot_id\nROBOT-0001\n"
        parts = again.glue.get_partitions(
            DatabaseName=again.names.glue_database, TableName="procedure_telemetry"
        )
        assert [p["Values"] for p in parts["Partitions"]] == [["2024-03-01", "ROBOT-0007"]]
        # AND re-seeding sent no ObjectCreated event (only the notification set-up's TestEvent)
        msgs = again.sqs.receive_message(QueueUrl=again.queue_url, MaxNumberOfMessages=10)["Messages"]
        assert [json.loads(m["Body"]).get("Event") for m in msgs] == ["s3:TestEvent"]
    finally:
        again.stop()


def test_second_stack_on_same_workdir_is_refused(stack):
    # GIVEN a running stack WHEN another starts on the same workdir THEN a clear error
    with pytest.raises(StackError, match="already runs"):
        LocalStack(stack.workdir).start()

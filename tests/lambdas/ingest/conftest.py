"""A moto AWS (raw bucket notifying a queue, processed/quarantine buckets, Glue db, HMAC secret)
plus the real PostgreSQL from tests/conftest.py, wired to the ingest handler through its env vars.
The handler connects as `lake_ingest`, as in AWS; `Lake.query` reads as the administrator."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3
import psycopg
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from lake.catalog import create_tables
from lambdas.ingest import handler as ingest_handler
from tests.lambdas.ingest.events import from_sqs_messages, s3_notification, sqs_batch

REGION = "eu-west-1"
HMAC_KEY = "test-hmac-key-0123456789abcdef"


class FakeContext:
    function_name = "ingest"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ingest"
    aws_request_id = "req-1"


@dataclass
class Lake:
    s3: Any
    sqs: Any
    glue: Any
    db_url: str
    raw: str = "raw-bucket"
    processed: str = "processed-bucket"
    quarantine: str = "quarantine-bucket"
    queue_url: str = ""
    queue_arn: str = ""

    def put(self, key: str, body: bytes | str) -> dict[str, Any]:
        data = body.encode() if isinstance(body, str) else body
        return self.s3.put_object(Bucket=self.raw, Key=key, Body=data)

    def event_for(self, key: str, version_id: str | None = None) -> dict[str, Any]:
        """An SQS batch with the notification S3 sends for `key` (URL-encoded, as S3 does)."""
        return sqs_batch([s3_notification(self.raw, quote_plus(key, safe="/"), version_id)])

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return ingest_handler.handler(event, FakeContext())

    def ingest(self, key: str, body: bytes | str) -> dict[str, Any]:
        resp = self.put(key, body)
        return self.invoke(self.event_for(key, resp.get("VersionId")))

    def drain_queue(self) -> dict[str, Any]:
        """Receive what S3 really sent to the queue and wrap it as the Lambda event."""
        messages: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            messages.extend(got)
            for m in got:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return from_sqs_messages(messages, self.queue_arn)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute(sql, params).fetchall()

    def query_exec(self, sql: str) -> None:
        with psycopg.connect(self.db_url) as conn:
            conn.execute(sql)

    def ledger(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.db_url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute("SELECT * FROM etl.ingest_ledger ORDER BY object_key, first_seen_at").fetchall()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def quarantine_lines(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.quarantine, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines()]

    def parquet(self, key: str):
        return pq.read_table(io.BytesIO(self.s3.get_object(Bucket=self.processed, Key=key)["Body"].read()))


@pytest.fixture
def lake(migrated_db: str, ingest_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "PROCESSED_BUCKET": "processed-bucket",
        "QUARANTINE_BUCKET": "quarantine-bucket", "GLUE_DATABASE": "surgical_lake", "DATABASE_URL": ingest_db,
        "POWERTOOLS_SERVICE_NAME": "ingest", "POWERTOOLS_METRICS_NAMESPACE": "SurgicalLake",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        glue = boto3.client("glue", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        lake = Lake(s3, sqs, glue, migrated_db)
        for bucket in (lake.raw, lake.processed, lake.quarantine):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=lake.raw, VersioningConfiguration={"Status": "Enabled"})
        lake.queue_url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
        lake.queue_arn = sqs.get_queue_attributes(QueueUrl=lake.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(Bucket=lake.raw, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": lake.queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
        glue.create_database(DatabaseInput={"Name": "surgical_lake"})
        create_tables(glue, "surgical_lake", lake.processed)  # as the stack declares them
        arn = secrets.create_secret(Name="phi-hmac-key", SecretString=HMAC_KEY)["ARN"]
        monkeypatch.setenv("HMAC_SECRET_ARN", arn)
        ingest_handler._state.clear()
        try:
            yield lake
        finally:
            conn = ingest_handler._state.get("conn")
            if conn is not None:
                conn.close()
            ingest_handler._state.clear()

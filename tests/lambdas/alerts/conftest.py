"""Real PostgreSQL (tests/conftest.py) with two robots, and moto S3 / EventBridge / SNS / SQS.

The bus has the rule the CDK app creates (source surgical-lake.analytics); here it targets an
SQS queue, so a test reads exactly the events EventBridge delivered.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from lake.alerts import EVENT_SOURCE

REGION = "eu-west-1"
BUCKET = "processed-bucket"
BUS = "lake-alerts"
LINEAGE = {"src_key": "fixture.csv", "src_modified": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}


def robot(robot_id: str, facility: str) -> dict[str, Any]:
    return {"robot_id": robot_id, "serial_number": f"SN-{robot_id[-4:]}X", "model": "M1", "manufacturer": "Acme",
            "facility_id": facility, "facility_name": facility, "install_date": dt.date(2023, 1, 1),
            "firmware_version": "1.0.0", "status": "active", **LINEAGE}


def insert(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                     list(row.values()))


@dataclass
class AlertLake:
    db_url: str
    s3: Any
    events: Any
    sqs: Any
    sns: Any
    bus_queue_url: str

    def delivered(self) -> list[dict[str, Any]]:
        """Events the bus rule delivered since the last call."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.bus_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.bus_queue_url, ReceiptHandle=m["ReceiptHandle"])

    def rows(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def alert_lake(migrated_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertLake]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with psycopg.connect(migrated_db) as conn:
        insert(conn, "surgical_robots", [robot("ROBOT-0001", "FAC-001"), robot("ROBOT-0002", "FAC-002")])
    with mock_aws():
        s3, events = boto3.client("s3", region_name=REGION), boto3.client("events", region_name=REGION)
        sqs, sns = boto3.client("sqs", region_name=REGION), boto3.client("sns", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="bus-target")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="alerts", EventBusName=BUS, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        events.put_targets(Rule="alerts", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        yield AlertLake(migrated_db, s3, events, sqs, sns, queue_url)

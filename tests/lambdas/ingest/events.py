"""Sample events (tests/events/*.json) and builders of SQS batches from them."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from tests.conftest import TESTS_DIR

EVENTS_DIR = TESTS_DIR / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


def s3_notification(bucket: str, key_in_event: str, version_id: str | None = None,
                    etag: str | None = None) -> dict[str, Any]:
    """An S3 ObjectCreated notification; the key must already be URL-encoded as S3 sends it."""
    event = load_event("s3_put_notification.json")
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["s3"]["object"]["key"] = key_in_event
    record["s3"]["object"]["versionId"] = version_id
    record["s3"]["object"]["eTag"] = etag
    return event


def sqs_batch(bodies: list[dict[str, Any] | str]) -> dict[str, Any]:
    """A Lambda SQS event with one message per body."""
    template = load_event("sqs_batch.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


def from_sqs_messages(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The Lambda event for messages received from a (moto) SQS queue, as the event source mapping builds it."""
    template = load_event("sqs_batch.json")["Records"][0]
    records = []
    for m in messages:
        record = copy.deepcopy(template)
        record.update(messageId=m["MessageId"], receiptHandle=m["ReceiptHandle"], body=m["Body"],
                      md5OfBody=m["MD5OfBody"], eventSourceARN=queue_arn)
        records.append(record)
    return {"Records": records}

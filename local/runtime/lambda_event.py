"""Build the event and context the Lambda runtime gives an SQS-triggered function.

Pure functions of what SQS's ReceiveMessage returned, so the handler sees exactly the shape
(field names, string-typed attributes) an `aws:sqs` event source mapping delivers.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One `Records[]` entry from a ReceiveMessage message (AttributeNames=All)."""
    attrs = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": str(attrs.get("ApproximateReceiveCount", "1")),
            "SentTimestamp": str(attrs.get("SentTimestamp", int(time.time() * 1000))),
            "SenderId": str(attrs.get("SenderId", "AIDAIENQZJOLO23YVJ4VO")),
            "ApproximateFirstReceiveTimestamp": str(
                attrs.get("ApproximateFirstReceiveTimestamp", int(time.time() * 1000))
            ),
        },
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


def failed_message_ids(response: Any, batch_ids: list[str]) -> set[str]:
    """Message ids to retry, read as Lambda reads a `ReportBatchItemFailures` response.

    Lambda treats the whole batch as failed when the response is malformed or names an id
    that was not in the batch; `None`/`{}`/an empty list mean every message succeeded.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch_ids)
    ids: set[str] = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            return set(batch_ids)
        ids.add(ident)
    return ids


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object Powertools and handlers read."""

    function_name: str = "surgical-lake-ingest"
    memory_limit_in_mb: int = 2048
    timeout_seconds: int = 300
    region: str = "us-east-1"
    account: str = "123456789012"
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{self.aws_request_id[:8]}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self._started)
        return max(0, int(left * 1000))

"""The ingest's dead-letter queue in local mode: redrive it, and drop what has since loaded.

A message lands in the DLQ after `maxReceiveCount` failed attempts (infrastructure failures
only: content errors never retry). `redrive` moves every message back to the ingest queue,
what `aws sqs start-message-move-task` does in AWS (moto does not implement that API). A
message whose objects have all finished in the ledger since (a later retry or a re-upload
loaded them) is obsolete: `drop_finished` deletes it, so the DLQ only holds work still to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdas.ingest.events import object_refs

_BATCH = 10  # SQS's maximum per receive/send/delete batch


def _receive_all(sqs: Any, url: str, hold_seconds: int = 60) -> list[dict[str, Any]]:
    """Every message of the queue, each hidden for `hold_seconds` while we decide."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=_BATCH, VisibilityTimeout=hold_seconds,
                                  WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        out.extend(got)


def _delete(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), _BATCH):
        chunk = messages[start : start + _BATCH]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])


def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), _BATCH):
        chunk = messages[start : start + _BATCH]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(chunk)])


def redrive(sqs: Any, dlq_url: str, queue_url: str) -> int:
    """Move every DLQ message to the ingest queue (sent, then deleted); returns how many."""
    messages = _receive_all(sqs, dlq_url)
    for start in range(0, len(messages), _BATCH):
        chunk = messages[start : start + _BATCH]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(chunk)])
    _delete(sqs, dlq_url, messages)
    return len(messages)


def drop_finished(sqs: Any, dlq_url: str, finished: Callable[[str, str | None, str | None], bool]) -> int:
    """Delete DLQ messages whose every object has finished; returns how many were deleted.

    `finished(key, etag, version_id)` answers from the ledger. A body that is no S3
    notification is kept: someone has to look at it.
    """
    done: list[dict[str, Any]] = []
    keep: list[dict[str, Any]] = []
    for message in _receive_all(sqs, dlq_url):
        try:
            refs = object_refs(message["Body"])
        except ValueError:  # not JSON, or not an S3 notification (pydantic's error is a ValueError)
            keep.append(message)
            continue
        (done if all(finished(r.key, r.etag, r.version_id) for r in refs) else keep).append(message)
    _delete(sqs, dlq_url, done)
    _release(sqs, dlq_url, keep)
    return len(done)


def depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

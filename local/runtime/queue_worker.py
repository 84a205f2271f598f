"""Drain the ingest queue the way Lambda's SQS event source mapping does.

Receives batches of the configured size, calls the handler with the real event shape,
deletes what succeeded, and makes the `batchItemFailures` (or the whole batch, when the
handler raises) visible again after a short local retry delay instead of the queue's long
visibility timeout. The DLQ move after `maxReceiveCount` receives is SQS's own redrive
policy, which moto applies on ReceiveMessage exactly as SQS does; the worker only keeps
polling until the retried messages have either succeeded or been moved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.runtime.lambda_event import LocalLambdaContext, failed_message_ids, sqs_event

Handler = Callable[[dict[str, Any], Any], Any]
log = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    batches: int = 0
    received: int = 0
    succeeded: int = 0
    retried: int = 0
    handler_errors: int = 0


@dataclass
class QueueWorker:
    sqs: Any
    queue_url: str
    queue_arn: str
    region: str
    handler: Handler
    batch_size: int = 10
    visibility_timeout: int = 1800
    retry_delay_seconds: int = 1
    context_factory: Callable[[], Any] = LocalLambdaContext

    def __post_init__(self) -> None:
        self.stats = WorkerStats()
        self._in_flight: list[dict[str, Any]] = []

    def receive(self) -> list[dict[str, Any]]:
        resp = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            VisibilityTimeout=self.visibility_timeout,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(resp.get("Messages", []))

    def process_batch(self, messages: list[dict[str, Any]]) -> set[str]:
        """Invoke the handler once for `messages`; returns the ids that will be retried."""
        self._in_flight = messages
        ids = [m["MessageId"] for m in messages]
        event = sqs_event(messages, self.queue_arn, self.region)
        try:
            failed = failed_message_ids(self.handler(event, self.context_factory()), ids)
        except Exception as exc:  # noqa: BLE001 - Lambda semantics: any error fails the batch
            log.warning(
                "ingest handler raised %s; the batch of %d will be retried", type(exc).__name__, len(ids)
            )
            self.stats.handler_errors += 1
            failed = set(ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        self._delete(done)
        self._make_visible(retry, self.retry_delay_seconds)
        self._in_flight = []
        self.stats.batches += 1
        self.stats.received += len(messages)
        self.stats.succeeded += len(done)
        self.stats.retried += len(retry)
        return failed

    def pending(self) -> int:
        """Messages visible, in flight or delayed: 0 means the queue is drained."""
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        return sum(
            int(attrs.get(name, 0))
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def drain(
        self, on_batch: Callable[[WorkerStats], None] | None = None, poll_seconds: float = 0.2
    ) -> WorkerStats:
        """Process until nothing is visible, in flight or waiting for a retry."""
        try:
            while True:
                messages = self.receive()
                if messages:
                    self.process_batch(messages)
                    if on_batch:
                        on_batch(self.stats)
                    continue
                if self.pending() == 0:
                    return self.stats
                time.sleep(poll_seconds)  # retried messages become visible after the retry delay
        finally:
            self.release_in_flight()

    def release_in_flight(self) -> None:
        """On interruption, hand the current batch back to the queue at once (as a crash would, later)."""
        if self._in_flight:
            self._make_visible(self._in_flight, 0)
            self._in_flight = []

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def _make_visible(self, messages: list[dict[str, Any]], delay: int) -> None:
        if messages:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": delay}
                    for i, m in enumerate(messages)
                ],
            )

"""The queue worker against SQS (moto in-process) with a fake handler.

Checks Lambda's SQS semantics: batch size, the event shape (parsed with Powertools' own
model), partial batch failures, whole-batch retry when the handler raises, and the DLQ after
`maxReceiveCount` receives.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel
from moto import mock_aws

from infra.config import load_config
from local.runtime.lambda_event import failed_message_ids
from local.runtime.queue_worker import QueueWorker
from local.stack.aws_resources import LocalNames, create_queues

MAX_RECEIVES = 3


class FakeHandler:
    """Records every event; fails the bodies in `fail_always`, and those in `fail_once` once."""

    def __init__(
        self,
        fail_always: frozenset[str] = frozenset(),
        fail_once: frozenset[str] = frozenset(),
        raise_on: frozenset[str] = frozenset(),
    ) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_always = set(fail_always)
        self.fail_once = set(fail_once)
        self.raise_on = set(raise_on)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        bodies = [r["body"] for r in event["Records"]]
        for body in bodies:
            if body in self.raise_on:
                self.raise_on.discard(body)
                raise RuntimeError("database unavailable")
        failures = []
        for record in event["Records"]:
            body = record["body"]
            if body in self.fail_always or body in self.fail_once:
                self.fail_once.discard(body)
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def deliveries(self, body: str) -> list[dict[str, Any]]:
        return [r for e in self.events for r in e["Records"] if r["body"] == body]


@pytest.fixture
def queues() -> Iterator[tuple[Any, str, str, LocalNames]]:
    with mock_aws():
        cfg = dataclasses.replace(load_config(), ingest_max_receive_count=MAX_RECEIVES)
        names = LocalNames.from_config(cfg)
        sqs = boto3.client("sqs", region_name=names.region)
        queue_url, dlq_url = create_queues(sqs, cfg, names)
        yield sqs, queue_url, dlq_url, names


def _worker(
    sqs: Any, queue_url: str, names: LocalNames, handler: FakeHandler, batch_size: int = 5
) -> QueueWorker:
    return QueueWorker(
        sqs=sqs,
        queue_url=queue_url,
        queue_arn=names.queue_arn(names.queue),
        region=names.region,
        handler=handler,
        batch_size=batch_size,
        retry_delay_seconds=0,
    )


def _send(sqs: Any, url: str, bodies: list[str]) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)


def _dlq_bodies(sqs: Any, dlq_url: str) -> list[str]:
    msgs = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"] for m in msgs)


def test_batches_respect_size_and_every_message_is_deleted(queues):
    # GIVEN 12 messages and a batch size of 5
    sqs, url, dlq, names = queues
    _send(sqs, url, [f"m{i}" for i in range(12)])
    handler = FakeHandler()
    # WHEN the worker drains the queue
    stats = _worker(sqs, url, names, handler).drain()
    # THEN no batch exceeds 5, each message is handled once, and the queue is empty
    sizes = [len(e["Records"]) for e in handler.events]
    assert max(sizes) <= 5 and sum(sizes) == 12
    assert sorted(r["body"] for e in handler.events for r in e["Records"]) == sorted(
        f"m{i}" for i in range(12)
    )
    assert stats.succeeded == 12 and stats.retried == 0
    assert _worker(sqs, url, names, handler).pending() == 0
    assert _dlq_bodies(sqs, dlq) == []


def test_event_has_the_lambda_sqs_shape(queues):
    # GIVEN one S3 notification in the queue
    sqs, url, _, names = queues
    body = json.dumps({"Records": [{"s3": {"object": {"key": "surgical_robots/a.csv"}}}]})
    _send(sqs, url, [body])
    handler = FakeHandler()
    # WHEN it is delivered
    _worker(sqs, url, names, handler).drain()
    # THEN Powertools' SQS model parses the event, and the record carries source, ARN and region
    event = handler.events[0]
    parsed = SqsModel.model_validate(event)
    record = parsed.Records[0]
    assert record.body == body
    assert record.eventSource == "aws:sqs"
    assert record.eventSourceARN == names.queue_arn(names.queue)
    assert record.awsRegion == names.region
    assert record.attributes.ApproximateReceiveCount == "1"
    assert event["Records"][0]["receiptHandle"]


def test_partial_failure_retries_only_the_failed_message(queues):
    # GIVEN a batch where "b" fails on its first delivery only
    sqs, url, dlq, names = queues
    _send(sqs, url, ["a", "b", "c"])
    handler = FakeHandler(fail_once={"b"})
    # WHEN the worker drains
    stats = _worker(sqs, url, names, handler).drain()
    # THEN "b" is delivered twice (receive count 2 the second time), "a" and "c" once
    assert [r["attributes"]["ApproximateReceiveCount"] for r in handler.deliveries("b")] == ["1", "2"]
    assert len(handler.deliveries("a")) == 1 and len(handler.deliveries("c")) == 1
    assert stats.succeeded == 3 and stats.retried == 1
    assert _dlq_bodies(sqs, dlq) == []


def test_poison_message_moves_to_dlq_after_max_receive_count(queues):
    # GIVEN a message the handler always reports as failed, next to a good one
    sqs, url, dlq, names = queues
    _send(sqs, url, ["poison", "good"])
    handler = FakeHandler(fail_always={"poison"})
    # WHEN the worker drains
    _worker(sqs, url, names, handler).drain()
    # THEN the handler saw it exactly maxReceiveCount times, and it now sits in the DLQ only
    assert len(handler.deliveries("poison")) == MAX_RECEIVES
    assert len(handler.deliveries("good")) == 1
    assert _dlq_bodies(sqs, dlq) == ["poison"]
    assert _worker(sqs, url, names, handler).pending() == 0


def test_handler_exception_retries_the_whole_batch(queues):
    # GIVEN a handler that raises once while "x" is in the batch
    sqs, url, dlq, names = queues
    _send(sqs, url, ["x", "y"])
    handler = FakeHandler(raise_on={"x"})
    # WHEN the worker drains (batch size 10: both in one batch)
    stats = _worker(sqs, url, names, handler, batch_size=10).drain()
    # THEN both messages were delivered twice and finally deleted
    assert stats.handler_errors == 1
    assert len(handler.deliveries("x")) == 2 and len(handler.deliveries("y")) == 2
    assert _dlq_bodies(sqs, dlq) == []


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "2"}]}, {"2"}),
        ({"batchItemFailures": [{"itemIdentifier": "zz"}]}, {"1", "2"}),  # unknown id: whole batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"1", "2"}),
        ({"batchItemFailures": "oops"}, {"1", "2"}),
        ("not a dict", {"1", "2"}),
    ],
)
def test_failed_ids_follow_lambda_rules(response, expected):
    # GIVEN a batch of ids "1" and "2" WHEN Lambda reads the handler's response THEN these retry
    assert failed_message_ids(response, ["1", "2"]) == expected

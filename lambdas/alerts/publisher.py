"""Rollup candidates -> RDS episodes -> one EventBridge event per new episode.

Runs after every successful rollup (Glue Job State Change SUCCEEDED). Each pending file the
job wrote (`_alerts/pending/<run>.json`) is recorded (`episodes.record`: new episodes or
merges) and then deleted; a file that does not parse is moved to `_alerts/rejected/`. Then the
outbox is flushed: every unpublished episode is put on the bus (at most 10 entries per
PutEvents call), and marked published in the same transaction that locked it. An entry
EventBridge refuses stays unpublished and the call raises `PublishError`, so the invocation
is retried; an alert is never lost, and it is sent twice only if the commit after a successful
PutEvents fails (subscribers can de-duplicate on `alert_id`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from lake.alerts import PENDING_PREFIX, AlertFormatError, candidates_from_json, put_events_entry
from lambdas.alerts import episodes
from lambdas.alerts.errors import PublishError

REJECTED_PREFIX = "_alerts/rejected/"
PUT_EVENTS_BATCH = 10  # EventBridge PutEvents accepts at most 10 entries per call


@dataclass(frozen=True)
class Published:
    files: int
    candidates: int
    new: int
    merged: int
    published: tuple[dict[str, Any], ...]


def pending_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PENDING_PREFIX):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".json")]
    return sorted(keys)


def publish_pending(conn: psycopg.Connection, s3: Any, events: Any, bucket: str, bus_name: str,
                    now: datetime | None = None) -> Published:
    """Record every pending file's candidates, delete the files, then flush the outbox to the bus.

    `conn` must be in autocommit mode (each candidate and each batch is its own transaction).
    """
    now = now or datetime.now(UTC)
    files = candidates = new = merged = 0
    for key in pending_keys(s3, bucket):
        try:
            found = candidates_from_json(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        except (ValueError, AlertFormatError):
            name = key.removeprefix(PENDING_PREFIX)
            s3.copy_object(Bucket=bucket, Key=f"{REJECTED_PREFIX}{name}", CopySource={"Bucket": bucket, "Key": key})
            s3.delete_object(Bucket=bucket, Key=key)
            continue
        recorded = episodes.record(conn, found, now)
        s3.delete_object(Bucket=bucket, Key=key)
        files += 1
        candidates += len(found)
        new += len(recorded.new)
        merged += recorded.merged
    return Published(files, candidates, new, merged, tuple(publish_outbox(conn, events, bus_name, now)))


def publish_outbox(conn: psycopg.Connection, events: Any, bus_name: str, now: datetime) -> list[dict[str, Any]]:
    """Put every unpublished episode on the bus; raise PublishError when EventBridge refused some."""
    published: list[dict[str, Any]] = []
    refused = 0
    while True:
        with conn.transaction():
            details = episodes.unpublished(conn)
            if not details:
                break
            sent: list[str] = []
            for start in range(0, len(details), PUT_EVENTS_BATCH):
                batch = details[start:start + PUT_EVENTS_BATCH]
                response = events.put_events(Entries=[put_events_entry(d, bus_name) for d in batch])
                for detail, entry in zip(batch, response["Entries"], strict=True):
                    if entry.get("EventId"):
                        sent.append(detail["alert_id"])
                        published.append(detail)
                    else:
                        refused += 1
            episodes.mark_published(conn, sent, now)
        if refused:
            break
    if refused:
        raise PublishError(f"EventBridge refused {refused} alert events; they stay in the outbox")
    return published

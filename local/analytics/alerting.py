"""The alert path on the local stack: the same functions the AWS Lambdas run, over moto.

Around each local rollup: `export_windows` (the alerts function's `export_windows`) before the
job, then `raise_alerts`: the job's candidates go to `_alerts/pending/` (the Glue entry point's
`write_pending`), the alerts function's `publish_pending` records them in the workdir's
PostgreSQL and puts the new episodes on the moto bus; the bus rule delivers them to a log group
(moto's EventBridge cannot invoke a Lambda without Docker: `aws_resources.create_alert_resources`
says why not a queue) that is read into the router function, which publishes them to the moto
SNS topic with the facility attribute. Each event's detail is appended to
`<workdir>/state/alerts.ndjson`, which `lake alerts` lists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from lake.alerts import Candidate
from local.stack.local_stack import LocalStack
from local.tabular import render
from local.workdir import Workdir

ROUTER_THREADS = 8
COLUMNS = ("detected_at", "kind", "facility_id", "robot_id", "metric", "first_hour", "last_hour",
           "anomalous_hours", "peak_z")


def export_windows(stack: LocalStack) -> int:
    """Write the procedure windows from the workdir's PostgreSQL to the processed bucket."""
    from lambdas.alerts.windows import export_windows as export

    with psycopg.connect(stack.db.alerts_url, autocommit=True) as conn:
        return export(conn, stack.s3, stack.names.buckets["processed"]).written


def raise_alerts(stack: LocalStack, candidates: Iterable[Candidate]) -> list[dict[str, Any]]:
    """Hand a rollup's candidates to the alert path; returns the new alert events' details."""
    from glue_jobs.telemetry_rollup import write_pending
    from lambdas.alerts import router
    from lambdas.alerts.publisher import publish_pending

    bucket, logs, group = stack.names.buckets["processed"], stack.client("logs"), stack.alert_router_log_group
    write_pending(stack.s3, bucket, time.strftime("local-%Y%m%dT%H%M%SZ", time.gmtime()), candidates)
    logs.delete_log_group(logGroupName=group)  # it then holds only what this publish delivers
    logs.create_log_group(logGroupName=group)
    with psycopg.connect(stack.db.alerts_url, autocommit=True) as conn:
        publish_pending(conn, stack.s3, stack.client("events"), bucket, stack.names.alert_bus)
    events = [json.loads(e["message"]) for e in _log_events(logs, group)]
    sns = stack.client("sns")
    # In AWS each event is its own router invocation; here ROUTER_THREADS run at a time.
    with ThreadPoolExecutor(ROUTER_THREADS) as pool:
        list(pool.map(lambda event: router.route(event, sns, stack.alert_topic_arn), events))
    raised = [event["detail"] for event in events]
    append_alerts(stack.workdir, raised)
    return raised


def _log_events(logs: Any, group: str) -> list[dict[str, Any]]:
    """Every log event of the group, oldest first (the bus rule writes one per matching event)."""
    found: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
        found += page["events"]
    return sorted(found, key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))


def append_alerts(workdir: Workdir, details: Sequence[dict[str, Any]]) -> None:
    if details:
        with workdir.alerts_file.open("a") as fh:
            fh.writelines(json.dumps(d, sort_keys=True) + "\n" for d in details)


def read_alerts(workdir: Workdir) -> list[dict[str, Any]]:
    if not workdir.alerts_file.exists():
        return []
    return [json.loads(line) for line in workdir.alerts_file.read_text().splitlines() if line.strip()]


def alerts_table(details: Sequence[dict[str, Any]], fmt: str = "table") -> str:
    rows = [tuple(d.get(c) for c in COLUMNS) for d in details]
    return render(list(COLUMNS), rows, fmt)


def alerts_summary(details: Sequence[dict[str, Any]], limit: int = 10) -> str:
    """A few lines for the terminal: counts by kind, then the strongest alerts."""
    if not details:
        return "alerts raised: none"
    by_kind: dict[str, int] = {}
    for d in details:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + 1
    counts = ", ".join(f"{n} {kind.replace('_', ' ')}s" for kind, n in sorted(by_kind.items()))
    top = sorted(details, key=lambda d: -abs(float(d["peak_z"])))[:limit]
    lines = [f"alerts raised: {counts} (all in state/alerts.ndjson; list them with `lake alerts`)",
             alerts_table(top)]
    return "\n".join(lines)

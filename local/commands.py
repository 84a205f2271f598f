"""What `lake run`, `query`, `status`, `redrive` and `up` do (argparse lives in cli.py)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from infra.config import load_config
from local.analytics.alerting import alerts_summary, alerts_table, read_alerts
from local.analytics.glue_rollup import run_local_rollup
from local.analytics.spark_session import LazySpark
from local.analytics.workdir_engine import analytics_connection, database_url
from local.console import Stages
from local.exceptions import InputError
from local.local_run import (
    RunOutcome,
    default_workers,
    drop_finished_dead_letters,
    input_files,
    process_queue,
    run_pipeline,
    worker_spec,
)
from local.report import ledger_reader
from local.runtime import dead_letters
from local.runtime.queue_worker import QueueWorker
from local.stack.local_stack import LocalStack, running_stack_info, running_stack_sqs
from local.stack.workdir_database import redact
from local.tabular import render
from local.workdir import Workdir


def status_counts(report: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in report["objects"]:
        counts[obj["status"]] = counts.get(obj["status"], 0) + 1
    return counts


def print_run_summary(stages: Stages, report: dict[str, Any]) -> None:
    stages.say("objects: " + ", ".join(f"{n} {s}" for s, n in sorted(status_counts(report).items())))
    stages.say(render(["table", "rows"], sorted(report["tables"].items())))
    stages.say(f"parked rows: {report['parked']}   quarantined rows: {report['quarantined_rows']}")
    unknown = sorted({(o["entity"] or "?", c) for o in report["objects"] for c in o.get("unknown_columns", [])})
    if unknown:
        stages.say("columns the contract does not know (names only; values are never read):\n"
                   + render(["entity", "column"], unknown))


def record_run(
    workdir: Workdir, command: str, started: float, outcome: RunOutcome, extra: dict[str, Any]
) -> None:
    workdir.append_run(
        {
            "command": command,
            "started_at": started,
            "seconds": round(time.time() - started, 1),
            "objects": status_counts(outcome.report),
            "tables": outcome.report["tables"],
            **extra,
        }
    )


def cmd_run(workdir: Workdir, input_dir: Path, report_json: Path | None, workers: int | None = None) -> int:
    input_files(input_dir)  # a bad --input fails before anything starts
    stages = Stages()
    started = time.time()
    with stages.stage("start local stack (moto + PostgreSQL)"):
        stack = LocalStack(workdir, log=stages.say).start()
    try:
        outcome = run_pipeline(stack, input_dir, stages, workers=workers)
    finally:
        with stages.stage("stop local stack (state kept in workdir)"):
            stack.stop()
    record_run(workdir, "run", started, outcome, {"input": str(input_dir)})
    if report_json:
        report_json.parent.mkdir(parents=True, exist_ok=True)
        report_json.write_text(json.dumps(outcome.report, indent=2))
        stages.say(f"report: {report_json}")
    print_run_summary(stages, outcome.report)
    if outcome.rollup is not None:
        stages.say(alerts_summary(outcome.rollup.alerts))
    stages.say("timings:\n" + stages.table())
    failed = [o["key"] for o in outcome.report["objects"] if o["status"] == "failed"]
    if failed:
        stages.say(
            f"{len(failed)} objects failed on infrastructure (see `lake status`; the DLQ keeps their "
            f"messages): {failed[:5]}\nretry them with: lake redrive --workdir {workdir.root}"
        )
        return 1
    return 0


def cmd_redrive(workdir: Workdir, workers: int | None = None) -> int:
    """Move the DLQ's messages back to the ingest queue and process them (as in AWS:
    `aws sqs start-message-move-task`); with `lake up` running, it processes them itself."""
    info = running_stack_info(workdir)
    if info:
        sqs = running_stack_sqs(info)
        moved = dead_letters.redrive(sqs, sqs.get_queue_url(QueueName=info["dlq_name"])["QueueUrl"],
                                     sqs.get_queue_url(QueueName=info["queue_name"])["QueueUrl"])
        print(f"moved {moved} messages from the DLQ to the ingest queue; the running `lake up` processes them")
        return 0
    stages = Stages()
    with stages.stage("start local stack (moto + PostgreSQL)"):
        stack = LocalStack(workdir, log=stages.say).start()
    try:
        moved = dead_letters.redrive(stack.sqs, stack.dlq_url, stack.queue_url)
        stages.say(f"moved {moved} messages from the DLQ to the ingest queue")
        if moved:
            with stages.stage("ingest (SQS -> Lambda handler -> RDS / Parquet / quarantine)"):
                stats = process_queue(stack, workers or default_workers(stack))
                stages.say(f"    {stats.received} messages in {stats.batches} batches, {stats.retried} retried")
            drop_finished_dead_letters(stack)
        left = dead_letters.depth(stack.sqs, stack.dlq_url)
    finally:
        with stages.stage("stop local stack (state kept in workdir)"):
            stack.stop()
    if left:
        stages.say(f"{left} messages are back in the DLQ: their objects still fail (see `lake status`)")
        return 1
    stages.say("the DLQ is empty (telemetry rollups refresh at the next `lake run` or under `lake up`)")
    return 0


def cmd_query(workdir: Workdir, sql: str, fmt: str) -> int:
    with analytics_connection(workdir) as con:
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            raise InputError(f"query failed: {exc}") from exc
        columns = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if columns else []
    print(render(columns, rows, fmt))
    return 0


def cmd_alerts(workdir: Workdir, fmt: str, facility: str | None = None, kind: str | None = None) -> int:
    """The alert events local mode raised in this workdir (state/alerts.ndjson), oldest first."""
    details = [d for d in read_alerts(workdir)
               if (facility is None or d.get("facility_id") == facility) and (kind is None or d.get("kind") == kind)]
    if not details and fmt == "table":
        print(f"no alerts in {workdir.alerts_file}" + (" matching the filters" if facility or kind else ""))
        return 0
    print(json.dumps(details, indent=2) if fmt == "json" else alerts_table(details, fmt))  # json: whole events
    return 0


def dlq_depth(workdir: Workdir) -> int:
    info = running_stack_info(workdir)
    if info:
        sqs = running_stack_sqs(info)
        url = sqs.get_queue_url(QueueName=info["dlq_name"])["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
    return len(workdir.read_json(workdir.queues_file, {}).get("dlq", []))


def cmd_status(workdir: Workdir) -> int:
    timeout = load_config().ingest_lambda_timeout_seconds
    with database_url(workdir) as url, psycopg.connect(url) as conn:
        totals = ledger_reader.ledger_totals(conn)
        rejections = ledger_reader.object_rejections(conn)
        stale = ledger_reader.stale_processing(conn, timeout)
        unknown = ledger_reader.unknown_columns(conn)
        parked = ledger_reader.parked_summary(conn)
        refused = ledger_reader.parked_refusals(conn)
    print("ledger (etl.ingest_ledger):")
    print(render(["entity", "status", "objects", "rows_in", "loaded", "parked", "rejected"], totals))
    if rejections:
        print("\nobjects rejected whole, by reason:")
        print(render(["reason", "objects"], sorted(rejections.items())))
    if stale:
        print(f"\nstale: `processing` for longer than the function timeout ({timeout} s); the attempt died,"
              " the next delivery (a retry or `lake redrive`) claims it again:")
        print(render(["object", "entity", "attempts", "started"], stale))
    if unknown:
        print("\ncolumns the contract does not know (names only; values are never read):")
        print(render(["entity", "column", "objects", "latest"], unknown))
    print("\nparked rows waiting for a parent (etl.parked_rows):")
    print(render(["entity", "parent", "rows", "oldest"], parked))
    if refused:
        print("\nparked rows the database refused when their parent arrived (etl.parked_rejects):")
        print(render(["entity", "reason", "rows", "latest"], refused))
    print(f"\nDLQ depth: {dlq_depth(workdir)}")
    running = running_stack_info(workdir)
    print(f"stack: {'running at ' + running['endpoint'] if running else 'stopped'}")
    runs = workdir.last_runs()
    print("\nlast runs:")
    rows = [
        (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started_at"])),
            r["command"],
            r["seconds"],
            ", ".join(f"{n} {s}" for s, n in sorted(r.get("objects", {}).items())),
        )
        for r in runs
    ]
    print(render(["started (UTC)", "command", "seconds", "objects"], rows))
    return 0


def up_banner(stack: LocalStack) -> str:
    raw = stack.names.buckets["raw"]
    lines = [
        "local stack is up (Ctrl-C to stop; state is kept in the workdir)",
        f"  AWS endpoint   {stack.endpoint}   (region {stack.names.region}, any access key)",
        f"  PostgreSQL     {redact(stack.db.url)}",
        *[f"  bucket {kind:<15}{name}" for kind, name in stack.names.buckets.items()],
        f"  queue / DLQ    {stack.names.queue} / {stack.names.dlq}",
        "upload a file and watch it load:",
        "  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={stack.names.region} \\",
        f"    aws --endpoint-url {stack.endpoint} s3 cp robots.csv s3://{raw}/surgical_robots/robots.csv",
        f"then: lake query --workdir {stack.workdir.root} 'SELECT count(*) FROM surgical_robots'",
    ]
    return "\n".join(lines)


def cmd_up(workdir: Workdir, rollup_idle_seconds: float, retry_delay_seconds: int = 1,
           api_port: int | None = None) -> int:
    """`api_port`: also serve the query API there (local/api_server.py); None: don't."""
    from contextlib import ExitStack

    stages = Stages()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill stops as cleanly as Ctrl-C
    stack = LocalStack(workdir, log=stages.say).start()
    spark = LazySpark()
    worker: QueueWorker | None = None
    serving = ExitStack()
    try:
        stages.say(up_banner(stack))
        if api_port is not None:
            from local.api_server import banner, running

            stages.say(banner(serving.enter_context(running(workdir, stack.db.url, api_port)), workdir))
        worker = worker_spec(stack, retry_delay_seconds).ingest_worker()
        dirty_since: float | None = None
        while True:
            messages = worker.receive()
            if messages:
                failed = worker.process_batch(messages)
                stages.say(f"processed {len(messages)} messages ({len(failed)} to retry)")
                dirty_since = time.monotonic()
                continue
            if dirty_since is not None and time.monotonic() - dirty_since >= rollup_idle_seconds:
                result = run_local_rollup(stack, spark.get)
                stack.persist()
                stages.say(f"rollups refreshed ({result.uploaded} files); state saved")
                if result.alerts:
                    stages.say(alerts_summary(result.alerts))
                dirty_since = None
            time.sleep(0.5)
    except KeyboardInterrupt:
        if worker is not None:
            worker.release_in_flight()
        stages.say("stopping: saving buckets and queues to the workdir ...")
        return 0
    finally:
        serving.close()
        spark.stop()
        stack.stop()

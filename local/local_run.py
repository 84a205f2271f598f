"""`lake run`'s pipeline on a started stack: upload -> drain the queue -> rollups -> report.

Each step is a function so `lake demo`, `lake run` and `lake up` share them.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from lake.contract import LOAD_ORDER
from lake.layout import entity_of_key
from local.analytics.glue_rollup import RollupResult, run_local_rollup
from local.analytics.spark_session import LazySpark
from local.console import Stages, progress
from local.exceptions import InputError
from local.report import ledger_reader, run_report
from local.runtime import dead_letters
from local.runtime.ingest_handler import load_ingest_handler
from local.runtime.queue_worker import WorkerStats
from local.runtime.worker_pool import WorkerSpec, drain_in_parallel
from local.stack.aws_resources import TELEMETRY_TABLE
from local.stack.bucket_mirror import md5_of
from local.stack.local_stack import LocalStack

_UPLOAD_THREADS = 4


def is_metadata(relative: Path) -> bool:
    """Generator metadata and hidden files (`_manifest.json`, `.DS_Store`) are never uploaded."""
    return any(part.startswith(("_", ".")) for part in relative.parts)


def input_files(input_dir: Path) -> list[tuple[Path, str]]:
    """(path, raw key) of every data file under input_dir, parents' entities first."""
    if not input_dir.is_dir():
        raise InputError(f"--input {input_dir}: not a directory")
    found = [
        (p, p.relative_to(input_dir).as_posix())
        for p in input_dir.rglob("*")
        if p.is_file() and not is_metadata(p.relative_to(input_dir))
    ]
    if not found:
        raise InputError(f"--input {input_dir}: no data files (files starting with _ or . are skipped)")

    def order(item: tuple[Path, str]) -> tuple[int, str]:
        entity = entity_of_key(item[1])
        return (LOAD_ORDER.index(entity) if entity in LOAD_ORDER else len(LOAD_ORDER), item[1])

    return sorted(found, key=order)


def plan_uploads(files: list[tuple[Path, str]]) -> list[run_report.UploadedObject]:
    """Key and MD5 of each file (the ETag its single-part upload will get)."""
    with ThreadPoolExecutor(_UPLOAD_THREADS) as pool:
        md5s = list(pool.map(md5_of, [p for p, _ in files]))
    return [run_report.UploadedObject(key, md5) for (_, key), md5 in zip(files, md5s, strict=True)]


def new_telemetry_expected(
    planned: list[run_report.UploadedObject], before: list[ledger_reader.LedgerEntry]
) -> bool:
    """Whether some telemetry object is not already ingested (else the rollups have nothing new)."""
    done = {(e.object_key, e.content_checksum.strip('"')) for e in before if e.finished}
    return any(entity_of_key(o.key) == TELEMETRY_TABLE and (o.key, o.md5) not in done for o in planned)


def upload_inputs(stack: LocalStack, files: list[tuple[Path, str]]) -> None:
    """PUT each file into the raw bucket (single-part, so the ETag is its MD5)."""
    bucket = stack.names.buckets["raw"]
    bar = progress(sum(p.stat().st_size for p, _ in files), "upload", unit="B")
    bar.unit_scale = True
    lock = threading.Lock()

    def put(item: tuple[Path, str]) -> None:
        path, key = item
        with path.open("rb") as fh:
            stack.s3.put_object(Bucket=bucket, Key=key, Body=fh)
        with lock:
            bar.update(path.stat().st_size)

    with bar, ThreadPoolExecutor(_UPLOAD_THREADS) as pool:
        list(pool.map(put, files))


def worker_spec(stack: LocalStack, retry_delay_seconds: int = 1) -> WorkerSpec:
    return WorkerSpec(
        env=stack.handler_env(),
        log_file=stack.lambda_log,
        endpoint=stack.endpoint,
        region=stack.names.region,
        queue_url=stack.queue_url,
        queue_arn=stack.names.queue_arn(stack.names.queue),
        batch_size=stack.cfg.ingest_batch_size,
        visibility_timeout=stack.cfg.ingest_queue_visibility_timeout_seconds,
        retry_delay_seconds=retry_delay_seconds,
    )


def default_workers(stack: LocalStack) -> int:
    """Two processes per core (the handler waits on moto and PostgreSQL), at most the
    function's reserved concurrency. Default scale on 2 cores: 44 s with 4, 66 s with 2."""
    return max(1, min(2 * (os.cpu_count() or 1), stack.cfg.ingest_reserved_concurrency))


def process_queue(stack: LocalStack, workers: int = 1) -> WorkerStats:
    """Run the real ingest handler over the queue until it is drained (in `workers` processes)."""
    spec = worker_spec(stack)
    if workers <= 1:
        worker = spec.worker(load_ingest_handler(spec.env, spec.log_file))
        with progress(worker.pending(), "ingest", unit="msg") as bar:
            done = [0]

            def tick(stats: WorkerStats) -> None:
                bar.update(stats.succeeded - done[0])
                done[0] = stats.succeeded

            return worker.drain(on_batch=tick)
    total = spec.worker(handler=lambda event, context: None).pending()
    with progress(total, f"ingest ({workers} workers)", unit="msg") as bar:

        def show(pending: int) -> None:
            bar.n = max(0, total - pending)
            bar.refresh()

        return drain_in_parallel(spec, workers, on_progress=show)


def drop_finished_dead_letters(stack: LocalStack) -> int:
    """Delete the DLQ messages whose objects the ledger shows finished (e.g. after a re-run)."""
    with psycopg.connect(stack.db.url) as conn:
        return dead_letters.drop_finished(stack.sqs, stack.dlq_url,
                                 lambda key, etag, version: ledger_reader.finished_identity(conn, key, etag, version))


@dataclass
class RunOutcome:
    report: dict[str, Any]
    worker: WorkerStats
    rollup: RollupResult | None
    quarantine: run_report.QuarantineStats


def collect_report(
    stack: LocalStack, uploaded: list[run_report.UploadedObject], before: list[ledger_reader.LedgerEntry]
) -> tuple[dict[str, Any], run_report.QuarantineStats]:
    stack.persist()
    with psycopg.connect(stack.db.url) as conn:
        after = ledger_reader.read_ledger(conn)
        rds = run_report.rds_counts(conn)
        parked = ledger_reader.parked_total(conn)
    quarantine = run_report.quarantine_stats(stack.workdir.bucket_dir(stack.names.buckets["quarantine"]))
    lake = run_report.lake_counts(stack.workdir.bucket_dir(stack.names.buckets["processed"]))
    objects = run_report.object_outcomes(uploaded, before, after)
    report = run_report.build_report(objects, rds, lake, parked, quarantine.rows)
    report["dead_letters"] = dead_letters.depth(stack.sqs, stack.dlq_url)
    return report, quarantine


def run_pipeline(
    stack: LocalStack, input_dir: Path, stages: Stages, rollups: bool = True, workers: int | None = None
) -> RunOutcome:
    files = input_files(input_dir)
    spark = LazySpark()
    try:
        with psycopg.connect(stack.db.url) as conn:
            before = ledger_reader.read_ledger(conn)
        uploaded = plan_uploads(files)
        if rollups and new_telemetry_expected(uploaded, before):
            spark.prestart()  # the JVM starts while the ETL runs
        with stages.stage(f"upload {len(files)} files to s3://{stack.names.buckets['raw']}"):
            upload_inputs(stack, files)
        with stages.stage("ingest (SQS -> Lambda handler -> RDS / Parquet / quarantine)"):
            stats = process_queue(stack, workers or default_workers(stack))
            stages.say(f"    {stats.received} messages in {stats.batches} batches, {stats.retried} retried")
            dropped = drop_finished_dead_letters(stack)
            if dropped:
                stages.say(f"    {dropped} DLQ messages removed: their objects have loaded since")
        result = None
        if rollups:
            with stages.stage("Glue rollup job (Spark local mode)"):
                result = run_local_rollup(stack, spark.get)
                if result.skipped:
                    stages.say("    no new telemetry since the last rollup: nothing to do")
                stages.say(
                    f"    {result.uploaded} rollup files published,"
                    f" {result.partitions_added} partitions added, {len(result.alerts)} alerts raised"
                )
        with stages.stage("report"):
            report, quarantine = collect_report(stack, uploaded, before)
    finally:
        spark.stop()
    return RunOutcome(report, stats, result, quarantine)

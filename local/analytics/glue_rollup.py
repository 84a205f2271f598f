"""Run the Glue rollup job in Spark local mode against the local lake.

Spark cannot reach moto's S3 offline (no hadoop-aws jars), so the processed bucket is
mirrored to the workdir (the mirror the stack keeps anyway), the job's plain PySpark entry
`run_rollup` runs on `file://` paths, and what it wrote under each derived table is
reconciled back into the processed bucket (uploads, deletions) and its Glue partitions.
Around it, the same steps as in AWS: the alerts function exports the procedure windows first,
and the run's alert candidates go through the alert path afterwards (`local/analytics/alerting.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lake.contract import LAKE_TABLES, REFERENCE_DIR
from local.analytics import alerting
from local.stack.aws_resources import TELEMETRY_TABLE
from local.stack.bucket_mirror import list_objects, local_files, md5_of
from local.stack.local_stack import LocalStack

STATE_PREFIX = "_rollup_state"  # the job's input fingerprints: kept in the bucket, as in AWS


@dataclass(frozen=True)
class RollupResult:
    uploaded: int
    deleted: int
    partitions_added: int
    skipped: bool = False  # no telemetry changed since the last rollup: Spark not started
    alerts: tuple[dict[str, Any], ...] = ()  # the alert events this run raised (details)


def is_data_file(path: Path) -> bool:
    """Spark's bookkeeping files (_SUCCESS, .crc) stay local; everything else is published."""
    return not (path.name.startswith(("_", ".")) or path.name.endswith(".crc"))


def publish_table(stack: LocalStack, root: Path, table: str) -> tuple[int, int]:
    """Make the bucket's `table/` prefix equal the local folder; returns (uploaded, deleted)."""
    s3 = stack.s3
    bucket = stack.names.buckets["processed"]
    index = stack.bucket_index("processed")
    local = {p.relative_to(root).as_posix(): p for p in local_files(root / table) if is_data_file(p)}
    remote = list_objects(s3, bucket, f"{table}/")
    uploaded = 0
    stale = [k for k in remote if k not in local]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]}
        )
    for key in stale:
        index.pop(key, None)
    for key, path in local.items():
        if key in remote and remote[key].strip('"') == md5_of(path):
            continue
        uploaded += 1
        with path.open("rb") as fh:
            index[key] = s3.put_object(Bucket=bucket, Key=key, Body=fh)["ETag"]
    stack.save_index()
    return uploaded, len(stale)


def run_local_rollup(stack: LocalStack, spark: Callable[[], Any]) -> RollupResult:
    """Mirror the telemetry, run the job, publish its tables; `spark()` is only called when needed.

    When no telemetry file changed since the job last ran here (its state is in the mirror),
    the job would find nothing to do, so Spark is not started at all.
    """
    from glue_jobs.telemetry_rollup import run_rollup  # imports pyspark: only when a rollup runs

    alerting.export_windows(stack)
    changed = stack.sync_bucket("processed", prefix=f"{TELEMETRY_TABLE}/")
    changed += stack.sync_bucket("processed", prefix=f"{REFERENCE_DIR}/")
    root = stack.workdir.bucket_dir(stack.names.buckets["processed"])
    if not changed and (root / STATE_PREFIX).exists():
        return RollupResult(0, 0, 0, skipped=True)
    (root / TELEMETRY_TABLE).mkdir(parents=True, exist_ok=True)
    result = run_rollup(spark(), root.as_uri(), settings=stack.cfg.detection)
    uploaded = deleted = 0
    for table in (*LAKE_TABLES, STATE_PREFIX):
        up, gone = publish_table(stack, root, table)
        uploaded += up
        deleted += gone
    raised = alerting.raise_alerts(stack, result.candidates)
    return RollupResult(uploaded, deleted, stack.register_lake_partitions(), alerts=tuple(raised))

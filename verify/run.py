"""One verification: generate the tiny set, upload it, wait for the ingest to settle, check counts.

The steps are the same against AWS and against local mode; a `Target` supplies the engines
(verify/aws.py, verify/local.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lake.contract import LOAD_ORDER, MANIFEST_FILE, PROCEDURE_TELEMETRY
from verify.checks import Check, VerifyRun, ledger_sql, rds_count_sql, report

Say = Callable[[str], None]


class Target(Protocol):
    """Where a verification runs: a deployed stack or a local-mode workdir."""

    description: str
    raw_bucket: str

    def upload(self, path: Path, key: str) -> None: ...

    def queue_depths(self) -> tuple[int, int]:
        """(messages in the ingest queue, visible or in flight; messages in the DLQ)."""
        ...

    def drain(self) -> None:
        """Let the ingest process what is queued (local mode runs the handler; AWS needs nothing)."""
        ...

    def warehouse_query(self, sql: str) -> list[tuple[int, ...]]:
        """Run Redshift SQL (rds.*, rds_etl.* federated schemas); integer rows."""
        ...

    def lake_rows(self, table: str, file_prefixes: Sequence[str]) -> int:
        """Rows of a lake table in the Parquet files whose names start with one of the prefixes."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Timing:
    timeout_s: float = 900.0
    poll_s: float = 10.0
    quiet_polls: int = 3  # consecutive empty polls: S3 notifications arrive within seconds


def generate_tiny_set(out: Path, seed: int) -> VerifyRun:
    """`lake generate --scale tiny` (clean) into `out`; the run with its manifest and files."""
    from generators.options import resolve
    from generators.runner import generate
    from local.local_run import input_files

    generate(resolve("tiny", seed=seed), out, progress=False)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    return VerifyRun.new(manifest, input_files(out))


def wait_until_settled(target: Target, timing: Timing, say: Say,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep) -> tuple[bool, float]:
    """Poll until the ingest queue is empty `quiet_polls` times in a row; (settled, seconds waited)."""
    started = clock()
    quiet = 0
    while True:
        target.drain()
        queued, dlq = target.queue_depths()
        quiet = quiet + 1 if queued == 0 else 0
        waited = clock() - started
        if quiet >= timing.quiet_polls:
            return True, waited
        if waited >= timing.timeout_s:
            return False, waited
        say(f"    {queued} messages in the ingest queue, {dlq} in the DLQ ({waited:.0f} s)")
        sleep(timing.poll_s)


def verify(target: Target, run: VerifyRun, say: Say, timing: Timing = Timing()) -> list[Check]:
    """Upload `run`'s files, wait for the ingest, print and return every check."""
    from verify.checks import lake_file_prefixes

    _, dlq_before = target.queue_depths()
    say(f"uploading {len(run.files)} files to s3://{target.raw_bucket}/<entity>{run.marker}")
    uploaded = 0
    for path, key in run.uploads:
        target.upload(path, key)
        uploaded += 1
    say("waiting for the ingest queue to drain ...")
    settled, waited = wait_until_settled(target, timing, say)
    _, dlq_after = target.queue_depths()
    say("counting what arrived ...")
    rds_rows = {entity: target.warehouse_query(rds_count_sql(entity, run))[0][0] for entity in LOAD_ORDER}
    (ledger,) = target.warehouse_query(ledger_sql(run))
    lake_rows = target.lake_rows(PROCEDURE_TELEMETRY.name, lake_file_prefixes(run))
    checks = report(run, uploaded=uploaded, settled=settled, waited_s=waited, dlq_before=dlq_before,
                    dlq_after=dlq_after, rds_rows=rds_rows, ledger=ledger, lake_rows=lake_rows)
    for check in checks:
        say(check.line())
    passed = sum(c.passed for c in checks)
    say(f"{passed} of {len(checks)} checks passed on {target.description} (run {run.run_id})")
    return checks


def verify_with_tiny_set(target: Target, seed: int, say: Say, timing: Timing = Timing()) -> list[Check]:
    with tempfile.TemporaryDirectory(prefix="lake-verify-") as tmp:
        say(f"generating the tiny data set (seed {seed}) ...")
        run = generate_tiny_set(Path(tmp) / "raw", seed)
        return verify(target, run, say, timing)

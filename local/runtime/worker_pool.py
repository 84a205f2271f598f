"""Several queue workers in parallel processes, like concurrent Lambda invocations.

The ingest is built for concurrent Lambdas (per-object ledger, newer-wins upserts), and one
Python process uses one core, so local mode drains the queue with up to `workers` processes
(capped by the function's reserved concurrency in the config). Each process loads the real
handler itself, exactly as a fresh Lambda container would.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

from local.runtime.queue_worker import QueueWorker, WorkerStats
from local.stack.moto_server import moto_client


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs (picklable)."""

    env: dict[str, str]
    log_file: Path
    endpoint: str
    region: str
    queue_url: str
    queue_arn: str
    batch_size: int
    visibility_timeout: int
    retry_delay_seconds: int

    def worker(self, handler: Callable[..., object]) -> QueueWorker:
        """The one place a `QueueWorker` is built (`lake run`, `redrive`, `up`, each process)."""
        return QueueWorker(
            sqs=moto_client("sqs", self.endpoint, self.region),
            queue_url=self.queue_url,
            queue_arn=self.queue_arn,
            region=self.region,
            handler=handler,
            batch_size=self.batch_size,
            visibility_timeout=self.visibility_timeout,
            retry_delay_seconds=self.retry_delay_seconds,
        )

    def ingest_worker(self) -> QueueWorker:
        """A worker running the real ingest handler, loaded as a fresh Lambda container loads it."""
        from local.runtime.ingest_handler import load_ingest_handler

        return self.worker(load_ingest_handler(self.env, self.log_file))


def run_worker(spec: WorkerSpec) -> WorkerStats:
    """Entry point of one worker process: load the handler, drain until the queue is empty."""
    return spec.ingest_worker().drain()


def add_stats(parts: list[WorkerStats]) -> WorkerStats:
    total = WorkerStats()
    for part in parts:
        for f in fields(WorkerStats):
            setattr(total, f.name, getattr(total, f.name) + getattr(part, f.name))
    return total


def drain_in_parallel(
    spec: WorkerSpec, workers: int, on_progress: Callable[[int], None] | None = None
) -> WorkerStats:
    """Run `workers` processes until all have found the queue drained; reports pending messages."""
    probe = spec.worker(handler=lambda event, context: None)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding clients and threads
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(run_worker, spec) for _ in range(workers)]
        while not all(f.done() for f in futures):
            if on_progress:
                on_progress(probe.pending())
            time.sleep(0.5)
        return add_stats([f.result() for f in futures])

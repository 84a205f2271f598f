"""The local stack: moto (S3, SQS, Glue, Secrets Manager) + PostgreSQL, built from the config.

`start()` restores the workdir's state in an order that matters: buckets are seeded from the
mirror BEFORE the raw bucket's notification is configured (re-seeding must not re-trigger the
ETL), Glue partitions are re-registered from the seeded keys, left-over queue messages are
re-sent. `stop()` mirrors the buckets and queues back to the workdir.

Example:
    >>> with LocalStack(Workdir.at(".lake")) as stack:
    ...     stack.s3.upload_file("a.csv", stack.names.buckets["raw"], "surgical_robots/a.csv")
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.config import LakeConfig, load_config
from lake.contract import LAKE_TABLES
from local.exceptions import StackError
from local.stack import aws_resources, bucket_mirror
from local.stack.aws_resources import LOCAL_REGION, TELEMETRY_TABLE, LocalNames
from local.stack.moto_server import MotoServer, moto_client
from local.stack.workdir_database import LocalDatabase
from local.workdir import Workdir

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_stack_info(workdir: Workdir) -> dict[str, Any] | None:
    """The stack.json of a live stack on this workdir (e.g. `lake up` in another terminal)."""
    info = workdir.read_json(workdir.stack_file, None)
    if info and process_alive(int(info["owner_pid"])):
        return dict(info)
    return None


def running_stack_sqs(info: dict[str, Any]) -> Any:
    """An SQS client on the live stack that `running_stack_info` found (its endpoint and region)."""
    return moto_client("sqs", info["endpoint"], info.get("region", LOCAL_REGION))


class LocalStack:
    def __init__(self, workdir: Workdir, cfg: LakeConfig | None = None, log: Log = _quiet) -> None:
        self.workdir = workdir
        self.cfg = cfg or load_config()
        self.names = LocalNames.from_config(self.cfg)
        self.log = log
        self.db = LocalDatabase(workdir)
        self.moto: MotoServer | None = None
        self.queue_url = ""
        self.dlq_url = ""
        self.hmac_secret_arn = ""
        self.alert_router_log_group = ""
        self.alert_topic_arn = ""
        self._index: dict[str, dict[str, str]] = {}
        self._clients: dict[str, Any] = {}

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalStack:
        other = running_stack_info(self.workdir)
        if other:
            raise StackError(
                f"a local stack already runs on {self.workdir.root} (pid {other['owner_pid']}, "
                f"endpoint {other['endpoint']}); stop it (Ctrl-C in its terminal) or use another --workdir"
            )
        self._clear_stale()
        try:
            self.db.start()
            state = self.workdir.read_json(self.workdir.stack_file, {}) or {}
            self.moto = MotoServer(self.workdir.state_dir / "moto.log", state.get("moto_port")).start()
            self._create_resources()
            self._restore_state()
            aws_resources.configure_raw_notifications(self.s3, self.names)
        except BaseException:
            self._shutdown()
            raise
        self.workdir.write_json(
            self.workdir.stack_file,
            {
                "owner_pid": os.getpid(),
                "moto_pid": self.moto.pid,
                "moto_port": self.moto.port,
                "endpoint": self.endpoint,
                "database_url": self.db.url,
                "region": self.names.region,
                "queue_name": self.names.queue,
                "dlq_name": self.names.dlq,
                "started_at": time.time(),
            },
        )
        return self

    def stop(self, persist: bool = True) -> None:
        try:
            if persist and self.moto is not None:
                self.persist(save_queues=True)
        finally:
            self._shutdown()
            info = self.workdir.read_json(self.workdir.stack_file, None)
            if info and info.get("owner_pid") == os.getpid():
                port = info.get("moto_port")
                self.workdir.write_json(self.workdir.stack_file, {"owner_pid": 0, "moto_port": port})

    def _shutdown(self) -> None:
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        self.db.stop()

    def _clear_stale(self) -> None:
        """A previous owner died without stopping: stop its moto server (ours, by pid)."""
        info = self.workdir.read_json(self.workdir.stack_file, None) or {}
        pid = info.get("moto_pid")
        if pid and process_alive(int(pid)) and _is_moto(int(pid)):
            os.kill(int(pid), 15)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clients and environment -------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        if self.moto is None:
            raise StackError("the local stack is not running")
        return self.moto.endpoint

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = moto_client(service, self.endpoint, self.names.region)
        return self._clients[service]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def glue(self) -> Any:
        return self.client("glue")

    @property
    def lambda_log(self) -> Path:
        """Where the ingest function's output (JSON logs, EMF metrics) goes, as CloudWatch would keep it."""
        return self.workdir.state_dir / "ingest-lambda.log"

    def handler_env(self) -> dict[str, str]:
        """The ingest Lambda's environment (docs/interfaces.md), pointed at the local stack."""
        return {
            "PROCESSED_BUCKET": self.names.buckets["processed"],
            "QUARANTINE_BUCKET": self.names.buckets["quarantine"],
            "GLUE_DATABASE": self.names.glue_database,
            "HMAC_SECRET_ARN": self.hmac_secret_arn,
            "DATABASE_URL": self.db.ingest_url,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.names.region,
            "AWS_REGION": self.names.region,
            "POWERTOOLS_SERVICE_NAME": "ingest",
            "POWERTOOLS_METRICS_NAMESPACE": "SurgicalLake",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("LAKE_HANDLER_LOG_LEVEL", "INFO"),
            **self.cfg.ingest_limits_env(),
        }

    # --- state -------------------------------------------------------------------------------
    def _create_resources(self) -> None:
        aws_resources.create_buckets(self.s3, self.names)
        self.queue_url, self.dlq_url = aws_resources.create_queues(self.sqs, self.cfg, self.names)
        self.hmac_secret_arn = aws_resources.create_hmac_secret(
            self.client("secretsmanager"), self.names, self.workdir.hmac_key()
        )
        aws_resources.create_glue_catalog(self.glue, self.names)
        self.alert_router_log_group, self.alert_topic_arn = aws_resources.create_alert_resources(
            self.client("events"), self.client("logs"), self.client("sns"), self.names
        )

    def _restore_state(self) -> None:
        """Seed buckets from the mirror, re-register partitions, re-send saved messages."""
        self._index = self.workdir.read_json(self.workdir.s3_index_file, {})
        for bucket in self.names.buckets.values():
            index: dict[str, str] = {}
            seeded = bucket_mirror.seed_from_dir(self.s3, bucket, self.workdir.bucket_dir(bucket), index)
            self._index[bucket] = index
            if seeded:
                self.log(f"restored {seeded} objects into {bucket}")
        self.register_lake_partitions()
        saved = self.workdir.read_json(self.workdir.queues_file, {})
        for url, bodies in ((self.queue_url, saved.get("queue", [])), (self.dlq_url, saved.get("dlq", []))):
            for body in bodies:
                self.sqs.send_message(QueueUrl=url, MessageBody=body)

    def register_lake_partitions(self, keys: list[str] | None = None) -> int:
        """Register every hive partition present in the processed bucket (idempotent)."""
        if keys is None:
            keys = list(bucket_mirror.list_objects(self.s3, self.names.buckets["processed"]))
        added = 0
        for table in (TELEMETRY_TABLE, *LAKE_TABLES):
            parts = aws_resources.partitions_in_keys(table, keys)
            added += aws_resources.register_partitions(self.glue, self.names, table, parts)
        return added

    def bucket_index(self, kind: str) -> dict[str, str]:
        """key -> ETag of the workdir's copy of bucket `kind` (update it, then `save_index`)."""
        return self._index.setdefault(self.names.buckets[kind], {})

    def save_index(self) -> None:
        self.workdir.write_json(self.workdir.s3_index_file, self._index)

    def sync_bucket(self, kind: str, prefix: str = "") -> int:
        """Mirror one bucket (or a prefix of it) to the workdir now; returns files added/changed/removed."""
        bucket = self.names.buckets[kind]
        n = bucket_mirror.sync_to_dir(
            self.s3, bucket, self.workdir.bucket_dir(bucket), self.bucket_index(kind), prefix
        )
        self.save_index()
        return n

    def persist(self, save_queues: bool = False) -> None:
        for kind in self.names.buckets:
            self.sync_bucket(kind)
        if save_queues:
            self.workdir.write_json(
                self.workdir.queues_file,
                {"queue": self._drain_bodies(self.queue_url), "dlq": self._drain_bodies(self.dlq_url)},
            )

    def _drain_bodies(self, url: str) -> list[str]:
        bodies: list[str] = []
        while True:
            msgs = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=0
            ).get("Messages", [])
            if not msgs:
                return bodies
            bodies.extend(m["Body"] for m in msgs)

    def queue_depths(self) -> dict[str, int]:
        out = {}
        for name, url in (("queue", self.queue_url), ("dlq", self.dlq_url)):
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            out[name] = int(attrs["ApproximateNumberOfMessages"]) + int(
                attrs["ApproximateNumberOfMessagesNotVisible"]
            )
        return out


def _is_moto(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"moto.server" in fh.read()
    except OSError:
        return False

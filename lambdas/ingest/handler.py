"""SQS batch of S3 notifications -> one `pipeline.process_object` per object; partial failures.

Thin on purpose: Powertools parses the batch, reports `batchItemFailures` (only failed messages
return to the queue, to the DLQ after maxReceiveCount) and emits logs and EMF metrics. Logs
carry keys, counts and exception class names: never row content or PHI.
"""

from __future__ import annotations

from typing import Any

import boto3
import psycopg
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lake.contract import PROCEDURE_TELEMETRY
from lake.detection import FACILITY_DIMENSION, FRESHNESS_METRICS
from lambdas.ingest.config import IngestConfig
from lambdas.ingest.errors import ObjectFailed
from lambdas.ingest.events import object_refs
from lambdas.ingest.pipeline import Deps, Outcome, process_object

logger = Logger(service="ingest")
metrics = Metrics(namespace="SurgicalLake", service="ingest")
# Report every failure as a batchItemFailure, also when all failed (same retry, no error spam).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_SECRET_MAX_AGE = 300
_state: dict[str, Any] = {}


def _deps() -> Deps:
    if "deps" not in _state:
        config = IngestConfig.from_env()
        key = parameters.get_secret(config.hmac_secret_arn, max_age=_SECRET_MAX_AGE)
        _state["deps"] = Deps(config, boto3.client("s3"), boto3.client("glue"),
                              key.encode() if isinstance(key, str) else bytes(key))
    return _state["deps"]


def _connection(config: IngestConfig) -> psycopg.Connection:
    """One connection per container, reopened after a failure broke it."""
    conn = _state.get("conn")
    if conn is None or conn.closed or conn.broken:
        secret = None
        if not config.database_url and config.db_secret_arn:
            secret = parameters.get_secret(config.db_secret_arn, max_age=_SECRET_MAX_AGE)
        conn = psycopg.connect(config.db_conninfo(secret), autocommit=True)
        _state["conn"] = conn
    return conn


def _emit(outcome: Outcome) -> None:
    c = outcome.counts
    logger.info("object ingested", extra={
        "object_key": outcome.key, "entity": outcome.entity, "status": outcome.status,
        "rows_in": c.rows_in, "rows_loaded": c.rows_loaded, "rows_parked": c.rows_parked,
        "rows_rejected": c.rows_rejected, "reasons": outcome.reasons, "error": outcome.error,
        "error_detail": outcome.detail, "unknown_columns": len(outcome.unknown_columns),
        "parked_rows_refused": outcome.unpark_rejected,
    })
    if outcome.status == "skipped":
        metrics.add_metric(name="ObjectsSkipped", unit=MetricUnit.Count, value=1)
        return
    entity = outcome.entity or "unrouted"
    for name, value in (("RowsLoaded", c.rows_loaded), ("RowsParked", c.rows_parked),
                        ("RowsRejected", c.rows_rejected), ("UnknownColumns", len(outcome.unknown_columns)),
                        ("ParkedRowsRefused", outcome.unpark_rejected)):
        metrics.add_metric(name=f"{entity}.{name}", unit=MetricUnit.Count, value=value)
    metrics.add_metric(name=f"Objects.{outcome.status}", unit=MetricUnit.Count, value=1)


# Rows an object loaded per facility, read back from RDS (robots give telemetry its facility).
_FACILITY_ROWS = {
    "surgical_procedures": "SELECT facility_id, count(*) FROM surgical_procedures WHERE src_key = %s GROUP BY 1",
    "procedure_telemetry": (
        "SELECT r.facility_id, sum(f.row_count) FROM etl.lake_files AS f JOIN surgical_robots AS r"
        f" ON r.robot_id = f.partition_values[{PROCEDURE_TELEMETRY.partition_keys.index('robot_id') + 1}]"
        " WHERE f.object_key = %s GROUP BY 1"),
}


def _emit_freshness(conn: psycopg.Connection, outcome: Outcome) -> None:
    """Per-facility freshness metrics (lake/detection.py: FRESHNESS_METRICS) for a loaded object."""
    sql = _FACILITY_ROWS.get(outcome.entity or "")
    if sql is None or outcome.status == "skipped" or outcome.counts.rows_loaded == 0:
        return
    for facility, rows in conn.execute(sql, (outcome.key,)).fetchall():
        with single_metric(name=FRESHNESS_METRICS[outcome.entity or ""], unit=MetricUnit.Count, value=rows,
                           namespace="SurgicalLake") as metric:
            metric.add_dimension(name=FACILITY_DIMENSION, value=facility)


def record_handler(record: SQSRecord) -> None:
    deps = _deps()
    metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=1)
    try:
        refs = object_refs(record.body)
    except (ValueError, ValidationError):
        logger.warning("message body is not an S3 notification", extra={"message_id": record.message_id})
        raise ObjectFailed("message body is not an S3 notification") from None
    receives = int(record.attributes.approximate_receive_count or 1)
    for ref in refs:
        try:
            outcome = process_object(deps, _connection(deps.config), ref, receives,
                                     reconnect=lambda: _connection(deps.config))
        except Exception as exc:
            # The class name only: database and parser messages can quote row values.
            logger.warning("object failed, will be retried",
                           extra={"object_key": ref.key, "error": type(exc).__name__})
            metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=1)
            conn = _state.get("conn")
            if isinstance(exc, psycopg.OperationalError) and conn is not None and not conn.closed:
                conn.close()
            raise ObjectFailed(f"{ref.key}: {type(exc).__name__}") from None
        _emit(outcome)
        _emit_freshness(_connection(deps.config), outcome)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)

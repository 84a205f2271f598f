"""The Glue job in Spark local mode against the local lake: mirror, run, publish, register."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.contract import PROCEDURE_TELEMETRY, arrow_schema, lake_data_columns
from local.rollup import run_local_rollup
from local.spark import local_spark_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = local_spark_session()
    yield session
    session.stop()


def _telemetry_parquet(samples: list[tuple[int, int, float]]) -> bytes:
    """(hour, minute, force) samples of ROBOT-0001 arm 1 on 2024-03-01, as the ingest writes them."""
    columns = lake_data_columns(PROCEDURE_TELEMETRY.stored_columns(), PROCEDURE_TELEMETRY.partition_keys)
    rows = [
        {
            "telemetry_id": f"00000000-0000-0000-0000-{i:012d}",
            "procedure_id": "PROC-000001",
            "timestamp": datetime(2024, 3, 1, hour, minute, tzinfo=UTC),
            "arm_id": 1,
            "joint_angle_deg": 0.0,
            "force_newtons": force,
            "torque_nm": 1.0,
            "motor_temp_c": 40.0,
            "latency_ms": 5.0,
            "error_code": None,
        }
        for i, (hour, minute, force) in enumerate(samples)
    ]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(columns)), buf)
    return buf.getvalue()


def _hourly_rows(stack) -> list[dict[str, Any]]:
    bucket = stack.names.buckets["processed"]
    keys = [o["Key"] for o in stack.s3.list_objects_v2(Bucket=bucket, Prefix="telemetry_hourly/")["Contents"]]
    tables = [
        pq.read_table(io.BytesIO(stack.s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys
    ]
    return sorted(pa.concat_tables(tables).to_pylist(), key=lambda r: r["hour"])


def test_rollup_reads_the_bucket_and_publishes_hourly_partitions(stack, spark):
    # GIVEN three samples in the processed bucket: two at 09:xx (force 10, 20), one at 10:05 (force 30)
    key = "procedure_telemetry/date=2024-03-01/robot_id=ROBOT-0001/part.parquet"
    stack.s3.put_object(
        Bucket=stack.names.buckets["processed"],
        Key=key,
        Body=_telemetry_parquet([(9, 0, 10.0), (9, 30, 20.0), (10, 5, 30.0)]),
    )
    # WHEN the job runs locally
    result = run_local_rollup(stack, lambda: spark)
    # THEN the bucket holds two hourly rows with the hand-computed statistics
    rows = _hourly_rows(stack)
    assert [(r["hour"].hour, r["sample_count"], r["force_newtons_avg"]) for r in rows] == [
        (9, 2, 15.0),
        (10, 1, 30.0),
    ]
    # AND the date partition is registered in the Glue catalog
    parts = stack.glue.get_partitions(DatabaseName=stack.names.glue_database, TableName="telemetry_hourly")
    assert [p["Values"] for p in parts["Partitions"]] == [["2024-03-01"]]
    assert result.uploaded >= 1
    # WHEN it runs again with no new telemetry
    calls: list[str] = []
    again = run_local_rollup(stack, lambda: calls.append("spark") or spark)
    # THEN Spark is not even started, nothing is published or deleted, and the rows stay
    assert again.skipped and calls == []
    assert (again.uploaded, again.deleted, again.partitions_added) == (0, 0, 0)
    assert len(_hourly_rows(stack)) == 2

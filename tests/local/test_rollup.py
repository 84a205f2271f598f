"""The Glue job in Spark local mode against the local lake: mirror, run, publish, register."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.contract import PROCEDURE_TELEMETRY, arrow_schema, lake_data_columns
from local.analytics.glue_rollup import run_local_rollup
from local.analytics.spark_session import local_spark_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = local_spark_session()
    yield session
    session.stop()


def _telemetry_parquet(samples: list[tuple[int, int, float]], day: int = 1, temp: float = 40.0,
                       first_id: int = 0) -> bytes:
    """(hour, minute, force) samples of ROBOT-0001 arm 1 on 2024-03-<day>, as the ingest writes them."""
    columns = lake_data_columns(PROCEDURE_TELEMETRY.stored_columns(), PROCEDURE_TELEMETRY.partition_keys)
    rows = [
        {
            "telemetry_id": f"00000000-0000-0000-0000-{first_id + i:012d}",
            "procedure_id": "PROC-000001",
            "timestamp": datetime(2024, 3, day, hour, minute, tzinfo=UTC),
            "arm_id": 1,
            "joint_angle_deg": 0.0,
            "force_newtons": force,
            "torque_nm": 1.0,
            "motor_temp_c": temp,
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


def _put_day(stack, day: int, name: str, samples: list[tuple[int, float]], first_id: int) -> None:
    """(hour, temperature) samples of ROBOT-0001 on March <day>, one file."""
    bucket = stack.names.buckets["processed"]
    for i, (hour, temp) in enumerate(samples):
        body = _telemetry_parquet([(hour, 0, 10.0)], day=day, temp=temp, first_id=first_id + i)
        stack.s3.put_object(Bucket=bucket, Key=f"procedure_telemetry/date=2024-03-{day:02d}/robot_id=ROBOT-0001/"
                                               f"{name}-{i}.parquet", Body=body)


def test_alerts_flow_through_bus_and_topic_once(stack, spark):
    from local.analytics.alerting import read_alerts
    from tests.lambdas.alerts.conftest import insert, robot

    with psycopg.connect(stack.db.url) as conn:
        insert(conn, "surgical_robots", [robot("ROBOT-0001", "FAC-001")])
    # GIVEN ROBOT-0001 at 40/42 degrees at 10:00 and 14:00 on March 1-4, then 50 degrees on the 5th
    for day in (1, 2, 3, 4):
        _put_day(stack, day, "base", [(10, 40.0), (14, 42.0)], first_id=day * 10)
    _put_day(stack, 5, "spike", [(10, 50.0)], first_id=100)
    # WHEN the local rollup runs THEN one alert: the episode, with the robot's facility
    first = run_local_rollup(stack, lambda: spark)
    assert [(a["kind"], a["robot_id"], a["facility_id"], a["metric"], a["first_hour"]) for a in first.alerts] == [
        ("anomaly_episode", "ROBOT-0001", "FAC-001", "motor_temp_c_avg", "2024-03-05T10:00:00Z")]
    assert read_alerts(stack.workdir) == list(first.alerts)
    # WHEN March 3rd gets a new file (an overlapping recompute of March 3rd-10th) and March 5th
    # another normal hour (its own recompute) THEN the episode is seen again but not raised again
    _put_day(stack, 3, "late", [(18, 41.0)], first_id=200)
    _put_day(stack, 5, "late", [(15, 41.0)], first_id=300)
    again = run_local_rollup(stack, lambda: spark)
    assert not again.skipped and again.alerts == ()
    assert len(read_alerts(stack.workdir)) == 1
    with psycopg.connect(stack.db.url) as conn:
        assert conn.execute("SELECT count(*), count(published_at) FROM alert_episodes").fetchone() == (1, 1)

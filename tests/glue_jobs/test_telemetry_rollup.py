"""The Glue rollup job on Spark local mode: hand-computed aggregates, anomalies, incrementality."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import statistics
from pathlib import Path
from typing import cast

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from glue_jobs.telemetry_rollup import RollupError, anomaly_dates_for, run_rollup
from lake.alerts import ANOMALY_EPISODE, Candidate
from lake.contract import LAKE_TABLES, arrow_type
from lake.detection import DetectionSettings
from tests.glue_jobs.samples import at as _at
from tests.glue_jobs.samples import files as _files
from tests.glue_jobs.samples import sample as _sample
from tests.glue_jobs.samples import table as _table
from tests.glue_jobs.samples import write as _write

pytestmark = pytest.mark.slow
UTC = dt.UTC


# R1: one hour, two arms, a duplicated sample in a second file -> the aggregates.
R1_ARM1 = [
    _sample(1, "ROBOT-0001", _at(1, 10, 5), force=10, torque=1, temp=40, latency=5, error="E101"),
    _sample(2, "ROBOT-0001", _at(1, 10, 20), force=20, torque=2, temp=41, latency=6),
    _sample(3, "ROBOT-0001", _at(1, 10, 59), force=30, torque=3, temp=42, latency=7),
]
R1_ARM2 = [_sample(4, "ROBOT-0001", _at(1, 10, 30), arm=2, force=50, torque=-4, temp=45, latency=9)]
# R2: one sample at 10:00 and 14:00 for four days, motor temperature alternating 40 / 42
# (8 baseline hours), then 50 degrees on March 5th at 10:00 -> an anomaly.
R2_TEMPS = [40.0, 42.0] * 4
R2_BASE = [
    _sample(100 + i, "ROBOT-0002", _at(1 + i // 2, 10 if i % 2 == 0 else 14), temp=t)
    for i, t in enumerate(R2_TEMPS)
]
R2_SPIKE = [_sample(200, "ROBOT-0002", _at(5, 10), temp=50.0)]
# R3: only 5 baseline hours before a spike -> below MIN_BASELINE_HOURS, no anomaly.
R3 = [_sample(300 + i, "ROBOT-0003", _at(1, 8 + i), temp=40.0 + (i % 2) * 2) for i in range(5)]
R3 += [_sample(399, "ROBOT-0003", _at(1, 20), temp=90.0)]


@pytest.fixture(scope="module")
def rolled(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("processed")
    _write(root, R1_ARM1 + R1_ARM2 + R2_BASE + R2_SPIKE + R3, "batch-1")
    _write(root, [R1_ARM1[0]], "batch-1-resent")  # the same telemetry_id again
    result = run_rollup(spark, root.as_uri())
    return root, result


def test_hourly_aggregates_match_hand_computation(rolled) -> None:
    # GIVEN robot 1's hour 10:00 on March 1st: arm 1 has 3 distinct samples (one re-sent),
    # arm 2 one sample
    root, _ = rolled
    # WHEN the rollup ran THEN the hourly rows hold the hand-computed statistics
    rows = {r["arm_id"]: r for r in _table(root, "telemetry_hourly") if r["robot_id"] == "ROBOT-0001"}
    assert set(rows) == {1, 2}
    arm1 = rows[1]
    assert arm1["date"] == "2024-03-01"
    assert arm1["hour"] == _at(1, 10)
    assert arm1["sample_count"] == 3
    assert (arm1["force_newtons_min"], arm1["force_newtons_avg"], arm1["force_newtons_max"]) == (10, 20, 30)
    assert arm1["force_newtons_stddev"] == pytest.approx(10.0)  # sqrt(((-10)^2 + 0 + 10^2) / 2)
    assert (arm1["torque_nm_min"], arm1["torque_nm_avg"], arm1["torque_nm_max"]) == (1, 2, 3)
    assert arm1["torque_nm_stddev"] == pytest.approx(1.0)
    assert arm1["motor_temp_c_avg"] == pytest.approx(41.0)
    assert arm1["motor_temp_c_stddev"] == pytest.approx(1.0)
    assert (arm1["latency_ms_min"], arm1["latency_ms_max"]) == (5, 7)
    assert arm1["latency_ms_p95"] == pytest.approx(6.9)  # 6 + 0.9 * (7 - 6), linear interpolation
    assert arm1["error_count"] == 1
    arm2 = rows[2]
    assert arm2["sample_count"] == 1
    assert arm2["force_newtons_avg"] == 50 and arm2["torque_nm_min"] == -4
    assert arm2["force_newtons_stddev"] is None  # one sample: no sample stddev
    assert arm2["latency_ms_p95"] == 9 and arm2["error_count"] == 0


def test_output_schema_is_the_contract(rolled) -> None:
    root, _ = rolled
    for name in ("telemetry_hourly", "telemetry_anomalies"):
        schema = pq.read_schema(next((root / name).rglob("*.parquet")))
        expected = [(c.name, arrow_type(c.dtype)) for c in LAKE_TABLES[name].columns if c.name != "date"]
        assert [(f.name, f.type) for f in schema] == expected


def test_anomaly_rule(rolled) -> None:
    # GIVEN robot 2: 8 baseline hours of 40/42 degrees then 50 degrees; robot 3: a 90-degree
    # spike after only 5 baseline hours
    root, _ = rolled
    # WHEN the rollup ran
    anomalies = _table(root, "telemetry_anomalies")
    # THEN exactly one anomaly: robot 2's motor temperature, z = (50 - 41) / stdev(baseline)
    mean, sd = statistics.mean(R2_TEMPS), statistics.stdev(R2_TEMPS)
    assert (mean, sd) == (41.0, pytest.approx(math.sqrt(8 / 7)))
    assert len(anomalies) == 1
    row = anomalies[0]
    assert (row["robot_id"], row["hour"], row["metric"], row["date"]) == (
        "ROBOT-0002", _at(5, 10), "motor_temp_c_avg", "2024-03-05")
    assert row["value"] == 50.0
    assert row["baseline_mean"] == pytest.approx(mean)
    assert row["baseline_stddev"] == pytest.approx(sd)
    assert row["z_score"] == pytest.approx((50 - mean) / sd)
    assert DetectionSettings().min_baseline_hours > 5  # why robot 3's spike is not flagged


def test_one_file_per_partition_and_every_date_rolled(rolled) -> None:
    root, result = rolled
    assert result.hourly_dates == ("2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05")
    per_partition: dict[str, int] = {}
    for rel in _files(root, "telemetry_hourly"):
        per_partition[rel.split("/")[1]] = per_partition.get(rel.split("/")[1], 0) + 1
    assert per_partition == {f"date=2024-03-0{d}": 1 for d in range(1, 6)}


def test_second_run_changes_nothing(spark, rolled, tmp_path: Path) -> None:
    # GIVEN a rolled-up lake (copied with its modification times)
    root = tmp_path / "lake"
    shutil.copytree(rolled[0], root, copy_function=shutil.copy2)
    before = {t: _files(root, t) for t in ("telemetry_hourly", "telemetry_anomalies")}
    # WHEN the job runs again with no new input
    result = run_rollup(spark, root.as_uri())
    # THEN it recomputes nothing and no output file changes
    assert (result.hourly_dates, result.anomaly_dates) == ((), ())
    assert {t: _files(root, t) for t in before} == before


def test_new_and_rewritten_dates_recompute_only_what_depends_on_them(spark, rolled, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(rolled[0], root, copy_function=shutil.copy2)
    hourly_before = _files(root, "telemetry_hourly")
    # GIVEN a new day (March 6th) for robot 2
    _write(root, [_sample(500, "ROBOT-0002", _at(6, 10), temp=41.0)], "batch-2")
    # WHEN the job runs THEN only that hourly date is recomputed, older partitions untouched
    result = run_rollup(spark, root.as_uri())
    assert result.hourly_dates == ("2024-03-06",)
    assert result.anomaly_dates == ("2024-03-06",)
    after = _files(root, "telemetry_hourly")
    assert {k: v for k, v in after.items() if "2024-03-06" not in k} == hourly_before
    assert sum("2024-03-06" in k for k in after) == 1

    # GIVEN March 1st rewritten: robot 2's 10:00 sample now reads 41 degrees
    anomalies_before = _files(root, "telemetry_anomalies")
    hourly_before = _files(root, "telemetry_hourly")
    folder = root / "procedure_telemetry" / "date=2024-03-01" / "robot_id=ROBOT-0002"
    shutil.rmtree(folder)
    rewritten = [dict(R2_BASE[0], motor_temp_c=41.0), R2_BASE[1]]
    _write(root, rewritten, "batch-1")
    # WHEN the job runs
    result = run_rollup(spark, root.as_uri())
    # THEN March 1st's hourly partition and the anomaly partitions of March 1st..8th (those
    # present in the lake: up to the 6th) are recomputed; other hourly partitions untouched
    assert result.hourly_dates == ("2024-03-01",)
    assert result.anomaly_dates == tuple(f"2024-03-0{d}" for d in range(1, 7))
    after = _files(root, "telemetry_hourly")
    assert {k: v for k, v in after.items() if "2024-03-01" not in k} == {
        k: v for k, v in hourly_before.items() if "2024-03-01" not in k}
    assert _files(root, "telemetry_anomalies").keys() != anomalies_before.keys()  # rewritten file
    temps = [41.0, *R2_TEMPS[1:]]
    (row,) = _table(root, "telemetry_anomalies")
    assert row["baseline_mean"] == pytest.approx(statistics.mean(temps))
    assert row["z_score"] == pytest.approx((50 - statistics.mean(temps)) / statistics.stdev(temps))


def test_removed_input_date_removes_its_outputs(spark, rolled, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(rolled[0], root, copy_function=shutil.copy2)
    # GIVEN March 5th (the day of the anomaly) deleted from the input
    shutil.rmtree(root / "procedure_telemetry" / "date=2024-03-05")
    # WHEN the job runs THEN its hourly and anomaly partitions are gone
    run_rollup(spark, root.as_uri())
    assert not (root / "telemetry_hourly" / "date=2024-03-05").exists()
    assert _table(root, "telemetry_anomalies") == []


def test_anomaly_dependency_window_and_bad_dates(spark, tmp_path: Path) -> None:
    assert anomaly_dates_for(["2024-02-28"]) == {
        "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04",
        "2024-03-05", "2024-03-06"}
    with pytest.raises(RollupError, match="not YYYY-MM-DD"):
        run_rollup(spark, tmp_path.as_uri(), changed_dates=["March 1st"])


def test_register_partitions_adds_the_written_dates_to_glue(monkeypatch) -> None:
    import boto3
    from moto import mock_aws

    from glue_jobs.telemetry_rollup import RollupResult, register_partitions
    from lake.catalog import create_tables

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        # GIVEN the Glue tables as the infra stack declares them, March 1st already registered
        glue = boto3.client("glue")
        glue.create_database(DatabaseInput={"Name": "lake_db"})
        create_tables(glue, "lake_db", "bucket")
        register_partitions(glue, "lake_db", "bucket", RollupResult(("2024-03-01",), ()))
        # WHEN a run's dates are registered
        register_partitions(glue, "lake_db", "bucket", RollupResult(("2024-03-01", "2024-03-02"), ("2024-03-02",)))
        # THEN each table lists its dates with their locations (the existing one is fine)
        parts = {
            name: sorted((p["Values"][0], p["StorageDescriptor"]["Location"])
                         for p in glue.get_partitions(DatabaseName="lake_db", TableName=name)["Partitions"])
            for name in LAKE_TABLES
        }
    assert parts == {
        "telemetry_hourly": [("2024-03-01", "s3://bucket/telemetry_hourly/date=2024-03-01/"),
                             ("2024-03-02", "s3://bucket/telemetry_hourly/date=2024-03-02/")],
        "telemetry_anomalies": [("2024-03-02", "s3://bucket/telemetry_anomalies/date=2024-03-02/")],
    }


def test_the_run_hands_over_its_anomaly_episode(rolled) -> None:
    # GIVEN the rolled fixture WHEN its alert candidates are read THEN robot 2's one flagged hour
    # is one episode (no precursor: no robot has 24 baseline hours)
    _, result = rolled
    mean, sd = statistics.mean(R2_TEMPS), statistics.stdev(R2_TEMPS)
    assert result.candidates == (Candidate(ANOMALY_EPISODE, "ROBOT-0002", "motor_temp_c_avg", _at(5, 10), _at(5, 10),
                                           1, cast(float, pytest.approx((50 - mean) / sd))),)


def test_changed_settings_recompute_every_date_and_watch_only_their_metrics(spark, rolled, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(rolled[0], root, copy_function=shutil.copy2)
    # GIVEN the same input, now watching latency only
    settings = DetectionSettings(metrics=("latency_ms_avg",))
    # WHEN the job runs THEN every date is recomputed and the temperature spike is not flagged
    result = run_rollup(spark, root.as_uri(), settings=settings)
    assert result.hourly_dates == tuple(f"2024-03-0{d}" for d in range(1, 6))
    assert _table(root, "telemetry_anomalies") == [] and result.candidates == ()
    # AND a lower threshold than the spike's z (9 / 1.07 = 8.4) on temperature flags it again
    result = run_rollup(spark, root.as_uri(), settings=DetectionSettings(z_threshold=8.0))
    assert [r["hour"] for r in _table(root, "telemetry_anomalies")] == [_at(5, 10)]
    assert run_rollup(spark, root.as_uri(), settings=DetectionSettings(z_threshold=8.5)).candidates == ()


def test_an_episode_across_a_recompute_boundary_is_handed_over_whole(spark, rolled, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(rolled[0], root, copy_function=shutil.copy2)
    # GIVEN robot 2's next measured hour, March 6th 09:00, again hot (60 degrees: baseline of 8 x
    # 40/42 and the 50 of the 5th -> mean 42, sd sqrt(80 / 8), z = 5.7)
    _write(root, [_sample(600, "ROBOT-0002", _at(6, 9), temp=60.0)], "batch-3")
    # WHEN only March 6th is recomputed
    result = run_rollup(spark, root.as_uri())
    assert result.hourly_dates == ("2024-03-06",)
    # THEN its episode is handed over with the day before as context: it began on the 5th
    # (23 h earlier, no unflagged hour between), so it overlaps the episode already recorded
    assert [(c.metric, c.first_hour, c.last_hour, c.anomalous_hours) for c in result.candidates] == [
        ("motor_temp_c_avg", _at(5, 10), _at(6, 9), 2)]

"""The Glue job's sample gaps, imputation, episodes and precursor rule on Spark local mode.

Fixtures are written here and every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path
from typing import cast

import pytest
from pyspark.sql import SparkSession

from glue_jobs.telemetry_rollup import (
    episodes,
    robot_hours,
    run_rollup,
    score_precursors,
    settings_from_argv,
    write_pending,
)
from lake.alerts import ANOMALY_EPISODE, FAILURE_PRECURSOR, Candidate
from lake.detection import DetectionSettings
from tests.glue_jobs.samples import at, sample, table, write, write_windows

pytestmark = pytest.mark.slow
R5, R6 = "ROBOT-0005", "ROBOT-0006"
DAY = "2024-03-10"
SD_40_42 = math.sqrt(24 / 23)  # sample stddev of 12 x 40 and 12 x 42 (mean 41)


def _r5_samples() -> list[dict]:
    # Arm 1: 10 samples at 10:00 (one error), none at 11:00, 2 at 12:00, 1 at 20:00 (no procedure)
    rows = [sample(i, R5, at(10, 10, i * 5), temp=40, latency=5, force=10, torque=1,
                   error="E101" if i == 0 else None) for i in range(10)]
    rows += [sample(20 + i, R5, at(10, 12, i * 20), temp=44, latency=9, force=20, torque=3) for i in range(2)]
    rows += [sample(30, R5, at(10, 20, 30), temp=50)]
    # Arm 2: 6 samples in each of 10:00, 11:00 and 12:00 at 41 degrees
    rows += [sample(100 + h * 10 + i, R5, at(10, h, i * 10), arm=2, temp=41) for h in (10, 11, 12) for i in range(6)]
    return rows


@pytest.fixture(scope="module")
def gaps(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gaps")
    write(root, _r5_samples(), "batch-1")
    # R5 operates 09:50-13:00; R6 10:00-11:30 but sent no telemetry that day
    write_windows(root, [("PROC-000005", R5, at(10, 9, 50), at(10, 13)),
                         ("PROC-000006", R6, at(10, 10), at(10, 11, 30))])
    run_rollup(spark, root.as_uri())
    return root


def _rows(root: Path) -> dict[tuple[str, int, int], dict]:
    return {(r["robot_id"], r["arm_id"], r["hour"].hour): r for r in table(root, "telemetry_hourly")}


def test_gap_flags_follow_the_rule(gaps: Path) -> None:
    rows = _rows(gaps)
    flags = {k: (r["sample_count"], r["sample_gap"], r["is_imputed"]) for k, r in rows.items()}
    assert flags == {
        # arm 1 usual rate = (10 + 2) samples / 7,200 s of its measured procedure hours -> 6 per hour
        (R5, 1, 10): (10, False, False),
        (R5, 1, 11): (10, True, True),  # no sample in a full procedure hour: filled, count carried
        (R5, 1, 12): (2, True, False),  # 2 < 0.5 x 6: sparse, measured
        (R5, 1, 20): (1, False, False),  # outside any procedure: no expectation
        # arm 2: 18 / 10,800 s -> 6 per hour, 6 each: no gap; 09:00 overlaps 10 min < 15: no row
        (R5, 2, 10): (6, False, False), (R5, 2, 11): (6, False, False), (R5, 2, 12): (6, False, False),
        # R6 reported nothing that date: the contract's arms 1-4, 10:00 (60 min) and 11:00 (30 min)
        **{(R6, arm, hour): (0, True, False) for arm in (1, 2, 3, 4) for hour in (10, 11)},
    }


def test_missing_hour_is_interpolated_and_counts_forward_filled(gaps: Path) -> None:
    rows = _rows(gaps)
    filled = rows[(R5, 1, 11)]
    # halfway between 10:00 (40 deg, 5 ms, 10 N) and 12:00 (44 deg, 9 ms, 20 N)
    assert (filled["motor_temp_c_avg"], filled["motor_temp_c_min"], filled["motor_temp_c_max"]) == (42, 42, 42)
    assert (filled["latency_ms_avg"], filled["latency_ms_p95"], filled["force_newtons_avg"]) == (7, 7, 15)
    assert filled["motor_temp_c_stddev"] == 0.0
    assert (filled["sample_count"], filled["error_count"]) == (10, 1)  # carried from 10:00
    silent = rows[(R6, 3, 10)]  # nothing to fill from
    assert (silent["motor_temp_c_avg"], silent["latency_ms_p95"], silent["error_count"]) == (None, None, 0)


def test_imputed_rows_are_never_pooled_as_measurements(spark: SparkSession, gaps: Path) -> None:
    hourly = spark.read.parquet(str(gaps / "telemetry_hourly"))
    pooled = {(r["robot_id"], r["hour"].hour): r for r in robot_hours(hourly).collect()}
    # R5 at 11:00 is arm 2 alone (the filled arm-1 row carries 10 samples that never arrived)
    assert (pooled[(R5, 11)]["sample_count"], pooled[(R5, 11)]["motor_temp_c_avg"]) == (6, 41.0)
    # 10:00 pools both arms: (10 x 40 + 6 x 41) / 16
    assert pooled[(R5, 10)]["motor_temp_c_avg"] == pytest.approx((400 + 246) / 16)
    assert R6 not in {robot for robot, _ in pooled}


def test_changed_windows_recompute_their_date(spark: SparkSession, gaps: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(gaps, root, copy_function=shutil.copy2)
    # GIVEN a procedure window added on R5 at 20:00-21:00 (no telemetry file changed)
    write_windows(root, [("PROC-000007", R5, at(10, 20), at(10, 21))], name="part-1")
    # WHEN the job runs THEN only that date is recomputed, with the new expectation
    result = run_rollup(spark, root.as_uri())
    assert result.hourly_dates == (DAY,)
    rows = _rows(root)
    # arm 1 rate = 13 / 10,800 s -> 4.33 per hour: 20:00's single sample is now a sparse gap
    assert (rows[(R5, 1, 20)]["sample_gap"], rows[(R5, 1, 20)]["is_imputed"]) == (True, False)
    # arm 2 sent nothing at 20:00: carried from its last measured hour (12:00), no later one
    late = rows[(R5, 2, 20)]
    assert (late["sample_gap"], late["is_imputed"], late["motor_temp_c_avg"], late["sample_count"]) == (
        True, True, 41.0, 6)


def test_episodes_group_consecutive_flagged_hours(spark: SparkSession) -> None:
    # GIVEN robot A's measured hours for one metric
    t = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    hours = [(0, 3.5, True), (1, -4.0, True), (4, 3.1, True), (5, 0.2, False), (6, 3.3, True), (36, 5.0, True)]
    df = spark.createDataFrame(
        [("ROBOT-0001", "m", t + dt.timedelta(hours=h), z, f) for h, z, f in hours],
        "robot_id string, metric string, hour timestamp, z_score double, flagged boolean")
    # WHEN grouped with a 24 h gap
    got = episodes(df, ANOMALY_EPISODE, 24)
    # THEN 0-4 h is one episode (no measured unflagged hour between, 3 h apart), 6 h starts
    # after the unflagged 5 h, 36 h is 30 h after 6 h (> 24 h): three episodes
    def h(n: int) -> dt.datetime:
        return t + dt.timedelta(hours=n)
    assert got == [
        Candidate(ANOMALY_EPISODE, "ROBOT-0001", "m", h(0), h(4), 3, -4.0),
        Candidate(ANOMALY_EPISODE, "ROBOT-0001", "m", h(6), h(6), 1, 3.3),
        Candidate(ANOMALY_EPISODE, "ROBOT-0001", "m", h(36), h(36), 1, 5.0),
    ]


def test_precursor_rule(spark: SparkSession) -> None:
    # GIVEN 24 baseline robot-hours on March 1st (temperature 40/42, latency 5/7 alternating)
    # and three hot, slow hours on March 3rd, with a 1-day window and a 2-day baseline
    rows = [(at(1, h), 40.0 + 2 * (h % 2), 5.0 + 2 * (h % 2)) for h in range(24)]
    rows += [(at(3, h), 45.0, 9.0) for h in (10, 11, 12)]
    df = spark.createDataFrame([("ROBOT-0001", hour, temp, lat) for hour, temp, lat in rows],
                               "robot_id string, hour timestamp, motor_temp_c_avg double, latency_ms_avg double")
    s = DetectionSettings(precursor_window_days=1, precursor_baseline_days=2, precursor_min_window_hours=3,
                          precursor_min_baseline_hours=24, precursor_min_z=2.0)
    # WHEN scored THEN 10:00 and 11:00 have too few window hours; at 12:00 the window is the 3
    # hot hours and the baseline all 24: z = (45 - 41) / sd and (9 - 6) / sd, the smaller counts
    scored = {r["hour"].astimezone(dt.UTC): r for r in score_precursors(df, s).collect()}  # naive: local time
    assert [scored[at(3, h)]["flagged"] for h in (10, 11, 12)] == [False, False, True]
    assert scored[at(3, 12)]["z_score"] == pytest.approx(3 / SD_40_42)
    assert not any(r["flagged"] for hour, r in scored.items() if hour < at(3, 0))
    assert episodes(score_precursors(df, s), FAILURE_PRECURSOR, 24) == [
        Candidate(FAILURE_PRECURSOR, "ROBOT-0001", "failure_precursor", at(3, 12), at(3, 12), 1,
                  cast(float, pytest.approx(3 / SD_40_42)))]


def test_pending_file_and_settings_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    c = Candidate(ANOMALY_EPISODE, R5, "motor_temp_c_avg", at(5, 10), at(5, 12), 2, 4.5)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="processed", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert write_pending(s3, "processed", "jr_1", []) is None  # nothing to hand over, no file
        key = write_pending(s3, "processed", "jr_1", [c])
        body = json.loads(s3.get_object(Bucket="processed", Key=key)["Body"].read())
    assert key == "_alerts/pending/jr_1.json"
    assert body == {"run_id": "jr_1", "candidates": [{
        "kind": "anomaly_episode", "robot_id": R5, "metric": "motor_temp_c_avg", "first_hour": "2024-03-05T10:00:00Z",
        "last_hour": "2024-03-05T12:00:00Z", "anomalous_hours": 2, "peak_z": 4.5}]}
    assert settings_from_argv(["job.py", "--JOB_NAME", "x"]) == DetectionSettings()
    custom = DetectionSettings(z_threshold=2.5, metrics=("error_count",))
    assert settings_from_argv(["job.py", "--DETECTION_SETTINGS", custom.to_json()]) == custom

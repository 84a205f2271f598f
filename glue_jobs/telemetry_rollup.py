"""Glue job: roll processed telemetry up to hourly statistics, flag gaps, anomalies and precursors.

Reads `<root>/procedure_telemetry/date=YYYY-MM-DD/robot_id=ROBOT-NNNN/*.parquet` (the lake
layout of docs/interfaces.md) and the procedure windows exported from RDS
(`<root>/_reference/procedure_windows/date=.../`, `lake.contract.PROCEDURE_WINDOWS`), and writes
two Parquet tables partitioned by `date`, with the columns of `lake.contract.LAKE_TABLES`:

- `<root>/telemetry_hourly/`: per robot, arm and UTC hour: distinct samples, min / avg / max /
  stddev (sample) of force, torque, motor temperature and latency, p95 latency (exact,
  `percentile`), samples carrying an error code. Duplicate `telemetry_id`s count once. Inside
  each performed procedure's [actual_start, actual_end) an hour whose samples are missing or
  far below the arm's usual rate is a `sample_gap` (rule: `lake.detection.DetectionSettings`);
  a missing hour gets a row whose values are filled for charts (`is_imputed`): counts
  forward-filled, continuous metrics linearly interpolated between the arm's measured hours of
  the same date (or carried from the one side that exists). Imputed rows are never read as
  measurements: the anomaly and precursor rules, and every view, skip them.
- `<root>/telemetry_anomalies/`: the anomaly rule. For each measured robot-hour (all arms
  pooled: sample-weighted means, the worst arm's p95 latency, the summed error count) and each
  watched metric, the baseline is that robot's measured robot-hours in `[hour - baseline_days,
  hour)`. A row is written when the baseline has at least `min_baseline_hours` hours, its sample
  stddev is > 0 and `|value - mean| / stddev >= z_threshold`.

The run also returns alert candidates (`lake.alerts.Candidate`) for the anomaly dates it
recomputed: anomaly episodes (flagged hours of one robot and metric with no measured, unflagged
hour between them, at most `episode_gap_hours` apart) and failure-precursor episodes (hours
where the precursor rule holds). The entry point writes them to `_alerts/pending/<run>.json`
for the alerts function, which de-duplicates them against what was already sent.

Incremental and idempotent: the job keeps a fingerprint (file names, sizes, modification
times of the telemetry and procedure-window files, and the settings) of every date in
`<root>/_rollup_state/`. A run recomputes the hourly partitions of the dates whose fingerprint
changed and the anomaly partitions of those dates plus the `baseline_days` following dates,
replaces exactly those partitions (removes them, then writes with dynamic partition
overwrite, so a date left with no rows disappears) as one file each (compaction), then saves
the new fingerprints. A run that fails part-way saves no state, so the next run recomputes the
same dates. A second run finds nothing changed and writes nothing. Changed settings change
every fingerprint: the next run recomputes everything. Input partitions are the UTC date of
the sample `timestamp` (the ingest's layout), so an hour never spans two dates.

Glue entry point (`python telemetry_rollup.py` inside Glue 5.0), job arguments:
    --JOB_NAME            the Glue job name (Glue sets it)
    --PROCESSED_BUCKET    processed bucket name; tables live at s3://<bucket>/<table>/
    --GLUE_DATABASE       Glue database whose `telemetry_hourly` / `telemetry_anomalies` tables
                          (defined by the infra stack) receive the partitions this run wrote
    --DETECTION_SETTINGS  (optional) `DetectionSettings` as JSON; defaults when absent
    --ALERTS_FUNCTION     (optional) the alerts Lambda, invoked first to export the procedure
                          windows from RDS (a failure is logged; the previous export is used)
The job needs the `lake` package (lake/contract.py) via `--extra-py-files`.

Local use (Spark local mode cannot reach S3 offline: mirror the bucket to a folder):
    >>> result = run_rollup(spark, "file:///tmp/processed", settings=DetectionSettings())
    >>> result.hourly_dates, result.anomaly_dates, result.candidates
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lake import catalog
from lake.alerts import (
    ANOMALY_EPISODE,
    FAILURE_PRECURSOR,
    PENDING_PREFIX,
    PRECURSOR_METRIC,
    Candidate,
    candidates_to_json,
)
from lake.contract import (
    LAKE_TABLES,
    PROCEDURE_TELEMETRY,
    PROCEDURE_WINDOWS,
    REFERENCE_DIR,
    ROLLUP_METRICS,
    SPARK_TYPES,
    TELEMETRY_ANOMALIES,
    TELEMETRY_HOURLY,
)
from lake.detection import JOB_ARGUMENT, DetectionSettings

TELEMETRY_DIR = PROCEDURE_TELEMETRY.name
HOURLY_DIR = TELEMETRY_HOURLY.name
ANOMALIES_DIR = TELEMETRY_ANOMALIES.name
WINDOWS_DIR = f"{REFERENCE_DIR}/{PROCEDURE_WINDOWS.name}"
STATE_DIR = "_rollup_state"

METRICS = tuple(ROLLUP_METRICS)  # the contract's: the hourly table's columns derive from it
STATS = ("min", "avg", "max", "stddev")
ARM = TELEMETRY_HOURLY.columns[1]  # arm_id: the contract's range gives the arms of a silent robot
ARMS = tuple(range(int(ARM.min or 1), int(ARM.max or 1) + 1))



class RollupError(RuntimeError):
    """The rollup cannot run: bad arguments or an unreadable input layout."""


@dataclass(frozen=True)
class RollupResult:
    """Date partitions (YYYY-MM-DD) this run rewrote or removed, and its alert candidates."""

    hourly_dates: tuple[str, ...]
    anomaly_dates: tuple[str, ...]
    candidates: tuple[Candidate, ...] = ()


# --- pure transformations ---------------------------------------------------------------------

def dedupe_telemetry(df: DataFrame) -> DataFrame:
    """One row per telemetry_id (a re-sent file must not count twice)."""
    return df.dropDuplicates(["telemetry_id"])


def hourly_rollup(telemetry: DataFrame) -> DataFrame:
    """Measured hourly rows (robot_id, arm_id, hour, date, statistics) from deduplicated samples."""
    aggs: list[SparkColumn] = [F.count(F.lit(1)).alias("sample_count")]
    for metric in METRICS:
        aggs += [
            F.min(metric).alias(f"{metric}_min"),
            F.avg(metric).alias(f"{metric}_avg"),
            F.max(metric).alias(f"{metric}_max"),
            F.stddev_samp(metric).alias(f"{metric}_stddev"),
        ]
    aggs += [
        F.percentile("latency_ms", F.lit(0.95)).alias("latency_ms_p95"),
        F.count("error_code").alias("error_count"),
    ]
    return (
        telemetry.withColumn("hour", F.date_trunc("hour", F.col("timestamp")))
        .groupBy(F.col("date").cast("string").alias("date"), "robot_id", "arm_id", "hour")
        .agg(*aggs)
    )


def procedure_hours(windows: DataFrame, dates: Iterable[str]) -> DataFrame:
    """(robot_id, hour, date, overlap_s): seconds of each UTC hour on `dates` inside a procedure.

    Overlapping windows of one robot are capped at the hour's 3,600 s.
    """
    hours = (
        windows.dropDuplicates(["procedure_id"])
        .where(F.col("actual_end") > F.col("actual_start"))
        .select(
            "robot_id", "actual_start", "actual_end",
            F.explode(F.sequence(
                F.date_trunc("hour", "actual_start"),
                F.date_trunc("hour", F.col("actual_end") - F.expr("INTERVAL 1 MILLISECOND")),
                F.expr("INTERVAL 1 HOUR"),
            )).alias("hour"),
        )
    )
    hour_end = F.col("hour") + F.expr("INTERVAL 1 HOUR")
    overlap = (F.least("actual_end", hour_end).cast("double")
               - F.greatest("actual_start", "hour").cast("double"))
    return (
        hours.withColumn("date", F.date_format("hour", "yyyy-MM-dd"))
        .where(F.col("date").isin(sorted(dates)))
        .groupBy("robot_id", "hour", "date")
        .agg(F.least(F.sum(overlap), F.lit(3600.0)).alias("overlap_s"))
    )


def flag_gaps(measured: DataFrame, windows: DataFrame, dates: Iterable[str], s: DetectionSettings) -> DataFrame:
    """`telemetry_hourly` rows: the measured hours with `sample_gap`, plus filled missing hours.

    Expected arms of a robot on a date: the arms it reported that date, else the contract's
    arm range. Usual rate of an arm on a date: its samples / procedure seconds over its measured
    hours inside procedures. Rules: `DetectionSettings`; imputation: the module doc.
    """
    spark = measured.sparkSession
    proc = procedure_hours(windows, dates)
    reported = measured.select("robot_id", "date", "arm_id").distinct()
    silent = (proc.select("robot_id", "date").distinct()
              .join(reported.select("robot_id", "date").distinct(), ["robot_id", "date"], "left_anti")
              .crossJoin(spark.createDataFrame([(a,) for a in ARMS], "arm_id int")))
    expected = proc.join(reported.unionByName(silent), ["robot_id", "date"])
    rate = (
        measured.join(proc, ["robot_id", "hour", "date"])
        .groupBy("robot_id", "arm_id", "date")
        .agg((F.sum("sample_count") / F.sum("overlap_s")).alias("usual_rate"))
    )
    both = (
        measured.withColumn("measured", F.lit(True))
        .join(expected, ["robot_id", "arm_id", "hour", "date"], "full_outer")
        .join(rate, ["robot_id", "arm_id", "date"], "left")
        .withColumn("measured", F.coalesce("measured", F.lit(False)))
        .withColumn("predicted", F.col("usual_rate") * F.col("overlap_s"))
    )
    missing = ~F.col("measured") & (F.col("overlap_s") >= s.gap_min_overlap_minutes * 60)
    sparse = (F.col("measured") & (F.col("predicted") >= s.gap_min_expected_samples)
              & (F.col("sample_count") < s.gap_rate_share * F.col("predicted")))
    rows = (both.withColumn("sample_gap", F.coalesce(missing | sparse, F.lit(False)))
            .where(F.col("measured") | F.col("sample_gap")))
    return _impute(rows)


def _impute(rows: DataFrame) -> DataFrame:
    """Fill the missing (unmeasured) rows from the arm's measured hours on the same date."""
    continuous = [f"{m}_{stat}" for m in METRICS for stat in STATS] + ["latency_ms_p95"]
    counts = ["sample_count", "error_count"]
    carried = F.when(F.col("measured"), F.struct(F.col("hour").cast("double").alias("t"), *continuous, *counts))
    key = Window.partitionBy("robot_id", "arm_id", "date").orderBy("hour")
    before = F.last(carried, ignorenulls=True).over(key.rowsBetween(Window.unboundedPreceding, -1))
    after = F.first(carried, ignorenulls=True).over(key.rowsBetween(1, Window.unboundedFollowing))
    filled = rows.withColumn("_prev", before).withColumn("_next", after)
    t = F.col("hour").cast("double")
    share = (t - F.col("_prev.t")) / (F.col("_next.t") - F.col("_prev.t"))
    values: dict[str, SparkColumn] = {}
    for c in continuous:
        line = F.col(f"_prev.{c}") + (F.col(f"_next.{c}") - F.col(f"_prev.{c}")) * share
        values[c] = F.coalesce(line, F.col(f"_prev.{c}"), F.col(f"_next.{c}"))
    for c in counts:
        values[c] = F.coalesce(F.col(f"_prev.{c}"), F.col(f"_next.{c}"), F.lit(0))
    has_neighbour = F.col("_prev").isNotNull() | F.col("_next").isNotNull()
    for c, value in values.items():
        filled = filled.withColumn(c, F.when(F.col("measured"), F.col(c)).otherwise(value))
    filled = filled.withColumn("is_imputed", ~F.col("measured") & has_neighbour)
    return _conform(filled, HOURLY_DIR)


def robot_hours(hourly: DataFrame) -> DataFrame:
    """Pool the measured arms of each robot-hour: sample-weighted means, worst p95, summed errors.

    Imputed rows (and gap rows without a sample) are left out: they are not measurements.
    """
    measured = hourly.where(~F.col("is_imputed") & (F.col("sample_count") > 0))
    weighted = [
        (F.sum(F.col(f"{m}_avg") * F.col("sample_count")) / F.sum("sample_count")).alias(f"{m}_avg")
        for m in METRICS
    ]
    return measured.groupBy("robot_id", "hour").agg(
        *weighted,
        F.max("latency_ms_p95").alias("latency_ms_p95"),
        F.sum("error_count").cast("double").alias("error_count"),
        F.sum("sample_count").alias("sample_count"),
    )


def score_anomalies(robot_hourly: DataFrame, s: DetectionSettings) -> DataFrame:
    """Every measured robot-hour x watched metric with its baseline, z-score and `flagged`.

    `robot_hourly` must hold every robot-hour of the dates scored and the `baseline_days` before.
    """
    window = (
        Window.partitionBy("robot_id", "metric")
        .orderBy(F.col("hour").cast("long"))
        .rangeBetween(-s.baseline_days * 86400, -1)
    )
    long_form = robot_hourly.select(
        "robot_id",
        "hour",
        F.explode(
            F.array(*[F.struct(F.lit(m).alias("metric"), F.col(m).cast("double").alias("value"))
                      for m in s.metrics])
        ).alias("m"),
    ).select("robot_id", "hour", "m.metric", "m.value")
    scored = (
        long_form.withColumn("baseline_hours", F.count("value").over(window))
        .withColumn("baseline_mean", F.avg("value").over(window))
        .withColumn("baseline_stddev", F.stddev_samp("value").over(window))
        .withColumn("z_score", (F.col("value") - F.col("baseline_mean")) / F.col("baseline_stddev"))
        .withColumn("date", F.date_format("hour", "yyyy-MM-dd"))
    )
    flagged = ((F.col("baseline_hours") >= s.min_baseline_hours)
               & (F.col("baseline_stddev") > 0)
               & (F.abs(F.col("z_score")) >= s.z_threshold))
    return scored.withColumn("flagged", F.coalesce(flagged, F.lit(False)))


def detect_anomalies(robot_hourly: DataFrame, dates: Iterable[str] | None = None,
                     settings: DetectionSettings | None = None) -> DataFrame:
    """`telemetry_anomalies` rows for the robot-hours on `dates` (all when None)."""
    scored = score_anomalies(robot_hourly, settings or DetectionSettings())
    if dates is not None:
        scored = scored.where(F.col("date").isin(sorted(dates)))
    return _conform(scored.where("flagged"), ANOMALIES_DIR)


def score_precursors(robot_hourly: DataFrame, s: DetectionSettings) -> DataFrame:
    """Per measured robot-hour: the precursor rule of `DetectionSettings` (metric `failure_precursor`).

    Window = the robot's measured hours in [hour - window_days + 1 h, hour]; baseline = those in
    the `precursor_baseline_days` before the window. z = (window mean - baseline mean) /
    baseline stddev, over robot-hour values, for motor temperature and latency; `z_score` is
    the smaller of the two, `flagged` when it reaches `precursor_min_z` with enough hours.
    """
    window_s = s.precursor_window_days * 86400
    t = F.col("hour").cast("long")
    by_robot = Window.partitionBy("robot_id").orderBy(t)
    recent = by_robot.rangeBetween(-(window_s - 3600), 0)
    base = by_robot.rangeBetween(-(window_s + s.precursor_baseline_days * 86400 - 3600), -window_s)
    scored = robot_hourly.withColumn("window_hours", F.count("hour").over(recent)).withColumn(
        "baseline_hours", F.count("hour").over(base))
    zs = []
    for m in ("motor_temp_c_avg", "latency_ms_avg"):
        z = (F.avg(m).over(recent) - F.avg(m).over(base)) / F.stddev_samp(m).over(base)
        scored = scored.withColumn(f"z_{m}", z)
        zs.append(F.col(f"z_{m}"))
    flagged = ((F.col("window_hours") >= s.precursor_min_window_hours)
               & (F.col("baseline_hours") >= s.precursor_min_baseline_hours)
               & (F.col("z_score") >= s.precursor_min_z))
    return (scored.withColumn("z_score", F.least(*zs))
            .withColumn("flagged", F.coalesce(flagged, F.lit(False)))
            .withColumn("metric", F.lit(PRECURSOR_METRIC))
            .withColumn("date", F.date_format("hour", "yyyy-MM-dd")))


def episodes(scored: DataFrame, kind: str, gap_hours: int) -> list[Candidate]:
    """Group flagged rows (robot_id, metric, hour, z_score, flagged) into episode candidates.

    A flagged hour starts a new episode when the robot's previous measured hour (for that
    metric) is unflagged or absent, or lies more than `gap_hours` before it.
    """
    order = Window.partitionBy("robot_id", "metric").orderBy("hour")
    previous_flagged = F.lag("flagged").over(order)
    gap = F.col("hour").cast("long") - F.lag("hour").over(order).cast("long")
    starts = F.col("flagged") & (F.coalesce(~previous_flagged, F.lit(True)) | (gap > gap_hours * 3600))
    numbered = scored.select("robot_id", "metric", "hour", "z_score", "flagged").withColumn(
        "episode", F.sum(starts.cast("int")).over(order.rowsBetween(Window.unboundedPreceding, 0)))
    grouped = numbered.where("flagged").groupBy("robot_id", "metric", "episode").agg(
        F.min("hour").alias("first_hour"), F.max("hour").alias("last_hour"),
        F.count(F.lit(1)).alias("hours"), F.max_by("z_score", F.abs("z_score")).alias("peak_z"),
    )
    return [
        Candidate(kind, r["robot_id"], r["metric"], _utc(r["first_hour"]), _utc(r["last_hour"]), int(r["hours"]),
                  float(r["peak_z"]))
        for r in grouped.orderBy("robot_id", "metric", "first_hour").collect()
    ]


def _utc(value: dt.datetime) -> dt.datetime:
    """Spark returns naive datetimes in the driver's local time; `astimezone` reads them as such."""
    return value.astimezone(dt.UTC)


def anomaly_dates_for(changed: Iterable[str], baseline_days: int = DetectionSettings.baseline_days) -> set[str]:
    """Anomaly partitions whose rows read a changed date (itself and the `baseline_days` after)."""
    out: set[str] = set()
    for day in changed:
        start = dt.date.fromisoformat(day)
        out |= {(start + dt.timedelta(days=k)).isoformat() for k in range(baseline_days + 1)}
    return out


def baseline_dates_for(dates: Iterable[str], lookback_days: int = DetectionSettings.baseline_days) -> set[str]:
    """Hourly partitions the rules for `dates` read (themselves and the `lookback_days` before)."""
    out: set[str] = set()
    for day in dates:
        end = dt.date.fromisoformat(day)
        out |= {(end - dt.timedelta(days=k)).isoformat() for k in range(lookback_days + 1)}
    return out


def _conform(df: DataFrame, table: str) -> DataFrame:
    """Contract columns in contract order and types, then the `date` partition column."""
    cols = [
        F.col(c.name).cast(SPARK_TYPES[c.dtype]).alias(c.name)
        for c in LAKE_TABLES[table].columns
        if c.name != "date"
    ]
    return df.select(*cols, F.col("date").cast("string").alias("date"))


# --- I/O at the edges -------------------------------------------------------------------------

def configure(spark: SparkSession) -> None:
    """Session settings the job relies on (UTC hours, ms timestamps, partition overwrite)."""
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MILLIS")
    spark.conf.set("spark.sql.parquet.compression.codec", "zstd")


class _Fs:
    """Hadoop FileSystem calls through py4j: works for file://, s3:// (Glue) and hdfs://."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        if spark.sparkContext._jvm is None:
            raise RollupError("the Spark session has no JVM gateway (stopped?)")
        self._jvm = spark.sparkContext._jvm
        self._root = self._jvm.org.apache.hadoop.fs.Path(root)
        self._fs = self._root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def path(self, *parts: str):
        return self._jvm.org.apache.hadoop.fs.Path("/".join((self._root.toString(), *parts)))

    def exists(self, *parts: str) -> bool:
        return bool(self._fs.exists(self.path(*parts)))

    def delete(self, *parts: str) -> None:
        if self.exists(*parts):
            self._fs.delete(self.path(*parts), True)


def partition_fingerprints(spark: SparkSession, fs: _Fs, table: str) -> dict[str, str]:
    """`date` -> digest of (relative path, size, mtime) of every Parquet file under `date=`.

    The listing runs inside Spark (the `binaryFile` source reads only file metadata when its
    content column is not selected), so it costs one job, not one round-trip per file.
    """
    if not fs.exists(table):
        return {}
    files = (
        spark.read.format("binaryFile")
        .option("pathGlobFilter", "*.parquet")
        .load(fs.path(table).toString())
    )
    if "date" not in files.columns:
        return {}
    entries: dict[str, list[str]] = {}
    for row in files.select(F.col("date").cast("string").alias("date"), "path", "length",
                            "modificationTime").collect():
        relative = row["path"][row["path"].rfind("/date=") + 1:]  # stable when the root moves
        entries.setdefault(row["date"], []).append(f"{relative}:{row['length']}:{row['modificationTime']}")
    return {d: hashlib.sha256("\n".join(sorted(v)).encode()).hexdigest() for d, v in entries.items()}


def input_fingerprints(spark: SparkSession, fs: _Fs, settings: DetectionSettings) -> dict[str, str]:
    """Per date with telemetry or procedure windows: a digest of both and of the settings."""
    telemetry = partition_fingerprints(spark, fs, TELEMETRY_DIR)
    windows = partition_fingerprints(spark, fs, WINDOWS_DIR)
    return {
        d: hashlib.sha256(f"{telemetry.get(d, '')}|{windows.get(d, '')}|{settings.digest()}".encode()).hexdigest()
        for d in telemetry.keys() | windows.keys()
    }


def _read_state(spark: SparkSession, fs: _Fs) -> dict[str, str]:
    if not fs.exists(STATE_DIR, "fingerprints"):
        return {}
    return {r["date"]: r["fingerprint"] for r in spark.read.json(fs.path(STATE_DIR, "fingerprints")
                                                                  .toString()).collect()}


def _write_state(spark: SparkSession, fs: _Fs, fingerprints: dict[str, str]) -> None:
    target = fs.path(STATE_DIR, "fingerprints").toString()
    df = spark.createDataFrame(sorted(fingerprints.items()), "date string, fingerprint string")
    df.coalesce(1).write.mode("overwrite").json(target)


def _write_partitions(df: DataFrame, fs: _Fs, table: str, dates: set[str]) -> None:
    """Replace exactly `dates` with `df`'s rows, one file per partition.

    The old partitions are removed first, so a date left without rows disappears; if the run
    fails after that, the state is not saved and the next run recomputes the same dates.
    """
    for day in sorted(dates):
        fs.delete(table, f"date={day}")
    df.repartition("date").write.mode("overwrite").partitionBy("date").parquet(fs.path(table).toString())


def _read_partitions(spark: SparkSession, fs: _Fs, table: str, dates: Iterable[str]) -> DataFrame | None:
    paths = [fs.path(table, f"date={d}").toString() for d in sorted(dates) if fs.exists(table, f"date={d}")]
    if not paths:
        return None
    return (spark.read.option("basePath", fs.path(table).toString()).parquet(*paths)
            .withColumn("date", F.col("date").cast("string")))


def run_rollup(spark: SparkSession, processed_root: str, changed_dates: Iterable[str] | None = None,
               settings: DetectionSettings | None = None) -> RollupResult:
    """Recompute the rollup partitions affected by changed input dates; see the module doc.

    `changed_dates=None` detects them from the stored fingerprints; an explicit list forces
    those dates (plus the anomaly dates depending on them) to be recomputed.
    """
    s = settings or DetectionSettings()
    configure(spark)
    fs = _Fs(spark, processed_root.rstrip("/"))
    current = input_fingerprints(spark, fs, s)
    previous = _read_state(spark, fs)
    if changed_dates is None:
        changed = {d for d in current.keys() | previous.keys() if current.get(d) != previous.get(d)}
    else:
        changed = set(changed_dates)
        for day in changed:
            try:
                dt.date.fromisoformat(day)
            except ValueError as exc:
                raise RollupError(f"changed date {day!r} is not YYYY-MM-DD") from exc
    if not changed:
        return RollupResult((), ())

    _write_partitions(_hourly_for(spark, fs, changed, s), fs, HOURLY_DIR, changed)

    last = max(current, default="")
    anomaly_dates = {d for d in anomaly_dates_for(changed, s.baseline_days) if d <= last or d in changed}
    candidates: list[Candidate] = []
    baseline = _read_partitions(spark, fs, HOURLY_DIR, baseline_dates_for(anomaly_dates, s.lookback_days))
    if baseline is None:
        anomalies = spark.createDataFrame([], _schema_ddl(ANOMALIES_DIR))
    else:
        pooled = robot_hours(baseline).cache()
        scored = score_anomalies(pooled, s).cache()
        anomalies = _conform(scored.where(F.col("date").isin(sorted(anomaly_dates)) & F.col("flagged")),
                             ANOMALIES_DIR)
        candidates += _episodes_touching(scored, ANOMALY_EPISODE, anomaly_dates, s)
        candidates += _episodes_touching(score_precursors(pooled, s), FAILURE_PRECURSOR, anomaly_dates, s)
    _write_partitions(anomalies, fs, ANOMALIES_DIR, anomaly_dates)
    _write_state(spark, fs, current)
    return RollupResult(tuple(sorted(changed)), tuple(sorted(anomaly_dates)), tuple(candidates))


def _episodes_touching(scored: DataFrame, kind: str, dates: set[str], s: DetectionSettings) -> list[Candidate]:
    """Episodes with a flagged hour on `dates`, seen with the `episode_gap_hours` before each date.

    The context lets an episode that began before a recomputed date be seen whole (or at least
    overlapping what was recorded of it), so the alerts function merges it instead of raising it
    again; episodes lying entirely in the context are left out.
    """
    context_days = -(-s.episode_gap_hours // 24)
    context = {(dt.date.fromisoformat(d) - dt.timedelta(days=k)).isoformat()
               for d in dates for k in range(1, context_days + 1)}
    found = episodes(scored.where(F.col("date").isin(sorted(dates | context))), kind, s.episode_gap_hours)
    day_starts = sorted(dt.datetime.fromisoformat(d).replace(tzinfo=dt.UTC) for d in dates)
    return [c for c in found
            if any(c.first_hour < start + dt.timedelta(days=1) and c.last_hour >= start for start in day_starts)]


def _hourly_for(spark: SparkSession, fs: _Fs, dates: set[str], s: DetectionSettings) -> DataFrame:
    """The hourly rows of `dates`: measured telemetry, gap flags and filled missing hours."""
    telemetry = _read_partitions(spark, fs, TELEMETRY_DIR, dates)
    # Cached: the gap rule reads the measured hours three times (arms, rates, the outer join).
    measured = (hourly_rollup(dedupe_telemetry(telemetry)).cache() if telemetry is not None
                else spark.createDataFrame([], _measured_ddl()))
    windows = _read_partitions(spark, fs, WINDOWS_DIR, dates)
    if windows is None:
        windows = spark.createDataFrame([], "procedure_id string, robot_id string, actual_start timestamp, "
                                            "actual_end timestamp, date string")
    return flag_gaps(measured, windows, dates, s)


def _measured_ddl() -> str:
    skip = {"sample_gap", "is_imputed", "date"}
    cols = [f"`{c.name}` {SPARK_TYPES[c.dtype]}" for c in TELEMETRY_HOURLY.columns if c.name not in skip]
    return ", ".join(["`date` string", *cols])


def _schema_ddl(table: str) -> str:
    cols = [f"`{c.name}` {SPARK_TYPES[c.dtype]}" for c in LAKE_TABLES[table].columns if c.name != "date"]
    return ", ".join([*cols, "`date` string"])


# --- Glue entry point -------------------------------------------------------------------------

def register_partitions(glue: object, database: str, bucket: str, result: RollupResult) -> None:
    """Add the rewritten date partitions to the Glue tables (`lake.catalog`'s one error policy:
    already registered is fine, any other error fails the run).

    A date whose rows all disappeared stays registered over an empty prefix: harmless to
    Athena and Spectrum, and it is reused if data comes back.
    """
    for table, dates in ((HOURLY_DIR, result.hourly_dates), (ANOMALIES_DIR, result.anomaly_dates)):
        catalog.register_partitions(glue, database, bucket, table, [(d,) for d in dates])


def write_pending(s3: Any, bucket: str, run_id: str, candidates: Iterable[Candidate]) -> str | None:
    """Hand a run's candidates to the alerts function: `_alerts/pending/<run_id>.json`; None if none."""
    found = list(candidates)
    if not found:
        return None
    key = f"{PENDING_PREFIX}{run_id}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(candidates_to_json(found, run_id)).encode(),
                  ContentType="application/json")
    return key


def refresh_windows(lambda_client: Any, function_name: str) -> bool:
    """Ask the alerts function to export the procedure windows from RDS; False (logged) on failure."""
    try:
        response = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                        Payload=json.dumps({"action": "export_windows"}).encode())
    except Exception as exc:  # the job still runs on the previous export
        print(f"rollup: procedure windows not refreshed ({type(exc).__name__}); using the previous export")
        return False
    if response.get("FunctionError"):
        print(f"rollup: procedure windows not refreshed ({response['FunctionError']}); using the previous export")
        return False
    return True


def optional_argument(argv: list[str], name: str) -> str | None:
    """The value of `--NAME` in the job's argv, or None (getResolvedOptions requires its names)."""
    flag = f"--{name}"
    if flag in argv and argv.index(flag) + 1 < len(argv):
        return argv[argv.index(flag) + 1]
    return None


def settings_from_argv(argv: list[str]) -> DetectionSettings:
    """`--DETECTION_SETTINGS` from the job arguments, or the defaults when absent."""
    text = optional_argument(argv, JOB_ARGUMENT)
    return DetectionSettings() if text is None else DetectionSettings.from_json(text)


def main() -> None:
    import boto3
    from awsglue.context import GlueContext  # only inside Glue
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ["JOB_NAME", "PROCESSED_BUCKET", "GLUE_DATABASE"])
    settings = settings_from_argv(sys.argv)
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    alerts_function = optional_argument(sys.argv, "ALERTS_FUNCTION")
    if alerts_function:
        refresh_windows(boto3.client("lambda"), alerts_function)
    result = run_rollup(glue_context.spark_session, f"s3://{args['PROCESSED_BUCKET']}", settings=settings)
    register_partitions(boto3.client("glue"), args["GLUE_DATABASE"], args["PROCESSED_BUCKET"], result)
    run_id = optional_argument(sys.argv, "JOB_RUN_ID") or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    write_pending(boto3.client("s3"), args["PROCESSED_BUCKET"], run_id, result.candidates)
    print(f"rollup: {len(result.hourly_dates)} hourly and {len(result.anomaly_dates)} anomaly partitions, "
          f"{len(result.candidates)} alert candidates")
    job.commit()


if __name__ == "__main__":
    main()

"""Glue job: roll processed telemetry up to hourly statistics and flag anomalous robot-hours.

Reads `<root>/procedure_telemetry/date=YYYY-MM-DD/robot_id=ROBOT-NNNN/*.parquet` (the lake
layout of docs/interfaces.md) and writes two Parquet tables partitioned by `date`, with the
columns of `lake.contract.LAKE_TABLES`:

- `<root>/telemetry_hourly/`: per robot, arm and UTC hour: distinct samples, min / avg / max /
  stddev (sample) of force, torque, motor temperature and latency, p95 latency (exact,
  `percentile`), samples carrying an error code. Duplicate `telemetry_id`s count once.
- `<root>/telemetry_anomalies/`: the anomaly rule. For each robot-hour (all arms pooled:
  sample-weighted means of the hourly averages, the worst arm's p95 latency, the summed error
  count) and each metric in `ANOMALY_METRICS`, the baseline is that robot's robot-hour values
  in the 7 days before the hour (`[hour - 7 d, hour)`, hours with data only). A row is written
  when the baseline has at least `MIN_BASELINE_HOURS` hours, its sample stddev is > 0 and
  `|value - mean| / stddev >= Z_THRESHOLD`.

Incremental and idempotent: the job keeps a fingerprint (file names, sizes, modification
times) of every input date partition in `<root>/_rollup_state/`. A run recomputes the hourly
partitions of the dates whose fingerprint changed (new, rewritten or deleted inputs) and the
anomaly partitions of those dates plus the 7 following dates (their baselines read the
changed hours), replaces exactly those partitions (removes them, then writes with dynamic
partition overwrite, so a date left with no rows disappears) as one file each (compaction),
then saves the new fingerprints. A run that fails part-way saves no state, so the next run
recomputes the same dates. A second run finds nothing changed and writes nothing. Input partitions are the
UTC date of the sample `timestamp` (the ingest's layout), so an hour never spans two dates.

Glue entry point (`python telemetry_rollup.py` inside Glue 5.0), job arguments:
    --JOB_NAME          the Glue job name (Glue sets it)
    --PROCESSED_BUCKET  processed bucket name; tables live at s3://<bucket>/<table>/
    --GLUE_DATABASE     Glue database whose `telemetry_hourly` / `telemetry_anomalies` tables
                        (defined by the infra stack) receive the partitions this run wrote
The job needs the `lake` package (lake/contract.py) via `--extra-py-files`.

Local use (Spark local mode cannot reach S3 offline: mirror the bucket to a folder):
    >>> result = run_rollup(spark, "file:///tmp/processed")
    >>> result.hourly_dates, result.anomaly_dates
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lake import catalog
from lake.contract import LAKE_TABLES, DType

TELEMETRY_DIR = "procedure_telemetry"
HOURLY_DIR = "telemetry_hourly"
ANOMALIES_DIR = "telemetry_anomalies"
STATE_DIR = "_rollup_state"

METRICS = ("force_newtons", "torque_nm", "motor_temp_c", "latency_ms")
ANOMALY_METRICS = ("force_newtons_avg", "torque_nm_avg", "motor_temp_c_avg", "latency_ms_avg",
                   "latency_ms_p95", "error_count")
BASELINE_DAYS = 7
MIN_BASELINE_HOURS = 6
Z_THRESHOLD = 3.0

_SPARK_TYPES = {DType.STRING: "string", DType.INT: "int", DType.FLOAT: "double",
                DType.TIMESTAMP: "timestamp", DType.BOOL: "boolean", DType.DATE: "date"}


class RollupError(RuntimeError):
    """The rollup cannot run: bad arguments or an unreadable input layout."""


@dataclass(frozen=True)
class RollupResult:
    """Date partitions (YYYY-MM-DD) this run rewrote or removed."""

    hourly_dates: tuple[str, ...]
    anomaly_dates: tuple[str, ...]


# --- pure transformations ---------------------------------------------------------------------

def dedupe_telemetry(df: DataFrame) -> DataFrame:
    """One row per telemetry_id (a re-sent file must not count twice)."""
    return df.dropDuplicates(["telemetry_id"])


def hourly_rollup(telemetry: DataFrame) -> DataFrame:
    """`telemetry_hourly` rows (contract columns, then `date`) from deduplicated samples."""
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
    grouped = (
        telemetry.withColumn("hour", F.date_trunc("hour", F.col("timestamp")))
        .groupBy("date", "robot_id", "arm_id", "hour")
        .agg(*aggs)
    )
    return _conform(grouped, HOURLY_DIR)


def robot_hours(hourly: DataFrame) -> DataFrame:
    """Pool the arms of each robot-hour: sample-weighted means, worst p95, summed errors."""
    weighted = [
        (F.sum(F.col(f"{m}_avg") * F.col("sample_count")) / F.sum("sample_count")).alias(f"{m}_avg")
        for m in METRICS
    ]
    return hourly.groupBy("robot_id", "hour").agg(
        *weighted,
        F.max("latency_ms_p95").alias("latency_ms_p95"),
        F.sum("error_count").cast("double").alias("error_count"),
    )


def detect_anomalies(robot_hourly: DataFrame, dates: Iterable[str] | None = None) -> DataFrame:
    """`telemetry_anomalies` rows for the robot-hours on `dates` (all when None).

    `robot_hourly` must hold every robot-hour of the dates and of the 7 days before them.
    """
    window = (
        Window.partitionBy("robot_id", "metric")
        .orderBy(F.col("hour").cast("long"))
        .rangeBetween(-BASELINE_DAYS * 86400, -1)
    )
    long_form = robot_hourly.select(
        "robot_id",
        "hour",
        F.explode(
            F.array(*[F.struct(F.lit(m).alias("metric"), F.col(m).cast("double").alias("value"))
                      for m in ANOMALY_METRICS])
        ).alias("m"),
    ).select("robot_id", "hour", "m.metric", "m.value")
    scored = (
        long_form.withColumn("baseline_hours", F.count("value").over(window))
        .withColumn("baseline_mean", F.avg("value").over(window))
        .withColumn("baseline_stddev", F.stddev_samp("value").over(window))
        .withColumn("z_score", (F.col("value") - F.col("baseline_mean")) / F.col("baseline_stddev"))
        .withColumn("date", F.date_format("hour", "yyyy-MM-dd"))
    )
    flagged = scored.where(
        (F.col("baseline_hours") >= MIN_BASELINE_HOURS)
        & (F.col("baseline_stddev") > 0)
        & (F.abs(F.col("z_score")) >= Z_THRESHOLD)
    )
    if dates is not None:
        flagged = flagged.where(F.col("date").isin(sorted(dates)))
    return _conform(flagged, ANOMALIES_DIR)


def anomaly_dates_for(changed: Iterable[str]) -> set[str]:
    """Anomaly partitions whose rows read a changed date (itself and the 7 days after)."""
    out: set[str] = set()
    for day in changed:
        start = dt.date.fromisoformat(day)
        out |= {(start + dt.timedelta(days=k)).isoformat() for k in range(BASELINE_DAYS + 1)}
    return out


def baseline_dates_for(dates: Iterable[str]) -> set[str]:
    """Hourly partitions the anomalies of `dates` need (themselves and the 7 days before)."""
    out: set[str] = set()
    for day in dates:
        end = dt.date.fromisoformat(day)
        out |= {(end - dt.timedelta(days=k)).isoformat() for k in range(BASELINE_DAYS + 1)}
    return out


def _conform(df: DataFrame, table: str) -> DataFrame:
    """Contract columns in contract order and types, then the `date` partition column."""
    cols = [
        F.col(c.name).cast(_SPARK_TYPES[c.dtype]).alias(c.name)
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
    return spark.read.option("basePath", fs.path(table).toString()).parquet(*paths)


def run_rollup(spark: SparkSession, processed_root: str, changed_dates: Iterable[str] | None = None) -> RollupResult:
    """Recompute the rollup partitions affected by changed input dates; see the module doc.

    `changed_dates=None` detects them from the stored fingerprints; an explicit list forces
    those dates (plus the anomaly dates depending on them) to be recomputed.
    """
    configure(spark)
    fs = _Fs(spark, processed_root.rstrip("/"))
    current = partition_fingerprints(spark, fs, TELEMETRY_DIR)
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

    present = sorted(changed & current.keys())
    if present:
        telemetry = spark.read.option("basePath", fs.path(TELEMETRY_DIR).toString()).parquet(
            *[fs.path(TELEMETRY_DIR, f"date={d}").toString() for d in present]
        )
        hourly = hourly_rollup(dedupe_telemetry(telemetry))
    else:
        hourly = spark.createDataFrame([], _schema_ddl(HOURLY_DIR))
    _write_partitions(hourly, fs, HOURLY_DIR, changed)

    anomaly_dates = {d for d in anomaly_dates_for(changed) if d <= max(current, default="") or d in changed}
    baseline = _read_partitions(spark, fs, HOURLY_DIR, baseline_dates_for(anomaly_dates))
    if baseline is None:
        anomalies = spark.createDataFrame([], _schema_ddl(ANOMALIES_DIR))
    else:
        anomalies = detect_anomalies(robot_hours(baseline.withColumn("date", F.col("date").cast("string"))),
                                     anomaly_dates)
    _write_partitions(anomalies, fs, ANOMALIES_DIR, anomaly_dates)
    _write_state(spark, fs, current)
    return RollupResult(tuple(sorted(changed)), tuple(sorted(anomaly_dates)))


def _schema_ddl(table: str) -> str:
    cols = [f"`{c.name}` {_SPARK_TYPES[c.dtype]}" for c in LAKE_TABLES[table].columns if c.name != "date"]
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


def main() -> None:
    import boto3
    from awsglue.context import GlueContext  # only inside Glue
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ["JOB_NAME", "PROCESSED_BUCKET", "GLUE_DATABASE"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    result = run_rollup(glue_context.spark_session, f"s3://{args['PROCESSED_BUCKET']}")
    register_partitions(boto3.client("glue"), args["GLUE_DATABASE"], args["PROCESSED_BUCKET"], result)
    print(f"rollup: {len(result.hourly_dates)} hourly and {len(result.anomaly_dates)} anomaly partitions")
    job.commit()


if __name__ == "__main__":
    main()

"""Precision and recall of the alerts against the failures the generator recorded.

Reads a workdir that `lake demo` filled (the generator's data: every unscheduled or emergency
maintenance is a failure preceded by 7 days of drift) and scores, with
`local.analytics.alert_scoring.score`:

1. the alerts the demo really raised (`alert_episodes`, through the whole alert path);
2. with `--sweep`, the same rules re-run on the demo's hourly rollups for other thresholds (the
   job's own Spark functions: `robot_hours`, `score_anomalies`, `score_precursors`,
   `episodes`), to show the trade-off the defaults sit on. Also scored: a naive baseline that
   alerts on every robot-hour whose error count is above zero.

Run: python -m bench.alert_accuracy --workdir data/demo [--sweep]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from local.analytics.alert_scoring import Score, accuracy_note, score
from local.workdir import Workdir


def _events(rows: list[tuple[Any, Any]]) -> list[tuple[str, Any]]:
    from datetime import UTC

    return [(str(r), t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)) for r, t in rows]


def sweep(workdir: Workdir, con: Any) -> list[tuple[str, Score]]:
    """Re-score the demo's hourly rollups with other thresholds (the job's Spark functions)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import functions as F

    from glue_jobs.telemetry_rollup import configure, episodes, robot_hours, score_anomalies, score_precursors
    from lake.alerts import ANOMALY_EPISODE, FAILURE_PRECURSOR
    from lake.detection import DetectionSettings
    from local.analytics.spark_session import local_spark_session
    from local.analytics.workdir_engine import lake_root

    failures = _events(con.execute("SELECT robot_id, started_at FROM rds.robot_maintenance_logs"
                                   " WHERE maintenance_type IN ('unscheduled', 'emergency')").fetchall())
    measured = _events(con.execute("SELECT DISTINCT robot_id, hour FROM lake.telemetry_hourly"
                                   " WHERE NOT is_imputed AND sample_count > 0").fetchall())
    naive = _events(con.execute("SELECT robot_id, hour FROM lake.telemetry_hourly WHERE NOT is_imputed"
                                " GROUP BY 1, 2 HAVING sum(error_count) > 0").fetchall())
    out = [("naive: every hour with an error code", score("naive", naive, failures, measured))]
    spark = local_spark_session("bench-alert-accuracy")
    try:
        configure(spark)
        hourly = spark.read.parquet(str(lake_root(workdir) / "telemetry_hourly"))
        pooled = robot_hours(hourly.withColumn("date", F.col("date").cast("string"))).cache()
        for z in (2.5, 3.0, 3.5, 4.0):
            s = DetectionSettings(z_threshold=z)
            found = episodes(score_anomalies(pooled, s), ANOMALY_EPISODE, s.episode_gap_hours)
            out.append((f"anomaly episodes, z >= {z}", score(ANOMALY_EPISODE, _alerts(found), failures, measured)))
        for z in (1.0, 1.5, 2.0, 2.5, 3.0):
            s = DetectionSettings(precursor_min_z=z)
            found = episodes(score_precursors(pooled, s), FAILURE_PRECURSOR, s.episode_gap_hours)
            out.append((f"precursors, both z >= {z}", score(FAILURE_PRECURSOR, _alerts(found), failures, measured)))
    finally:
        spark.stop()
    return out


def _alerts(found: list[Any]) -> list[tuple[str, Any]]:
    return [(c.robot_id, c.first_hour) for c in found]


def _line(label: str, s: Score) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:5.1f} %"

    return (f"{label:42} {s.alerts:>7,} {pct(s.precision):>9} {s.detected:>4}/{s.failures:<4} {pct(s.recall):>9}"
            f" {s.detected_observable:>4}/{s.observable:<4} {pct(s.recall_observable):>9}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alert_accuracy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("data/demo"), help="a workdir `lake demo` filled")
    parser.add_argument("--sweep", action="store_true", help="also re-score other thresholds (starts Spark)")
    args = parser.parse_args(argv)
    from local.analytics.alert_scoring import measure
    from local.analytics.workdir_engine import analytics_connection

    workdir = Workdir.at(args.workdir)
    with analytics_connection(workdir) as con:
        raised = measure(con)
        rows = [(f"raised: {s.kind}", s) for s in raised]
        if args.sweep:
            rows += sweep(workdir, con)
    print(f"alert accuracy against the recorded failures ({args.workdir}); an alert is true when its robot")
    print("fails within 7 days of its first hour; a failure is detected when an alert precedes it by <= 7 days")
    print(f"{'rule':42} {'alerts':>7} {'precision':>9} {'detected':>9} {'recall':>9} {'observable':>9} {'recall':>9}")
    for label, s in rows:
        print(_line(label, s))
    print(f"({accuracy_note(raised)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

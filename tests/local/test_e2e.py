"""End to end: `lake generate` (tiny, dirty) -> `lake run` twice -> `lake demo`, as a user runs them.

Real processes (the CLI in subprocesses), a real moto server, a real PostgreSQL (the workdir's
own cluster, or a fresh database on DATABASE_URL's server), the real ingest handler and the
Glue job in Spark local mode. Expected counts come from the generator's `_manifest.json`
(the exact outcome a correct ingest must produce) and, for the hourly rollup, from the
processed Parquet recomputed here with pyarrow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.dataset as ds
import pytest

from generators.tables import UNKNOWN_COLUMN
from lake.contract import ENTITIES, LOAD_ORDER
from local.report.run_report import STATUSES
from local.stack.postgres_server import server_url_from_env
from tests.local.browser import dump_dom

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SEED, DIRTY_RATE = "7", "0.05"
PROCESSED = "surgical-lake-dev-processed-123456789012-us-east-1"
QUERY = (
    "SELECT (SELECT count(*) FROM surgical_robots) AS unqualified,"
    " (SELECT count(*) FROM rds.surgical_robots) AS rds,"
    " (SELECT count(*) FROM rds_etl.ingest_ledger) AS ledger, (SELECT count(*) FROM lake.procedure_telemetry)"
    " AS telemetry, (SELECT count(*) FROM lake.telemetry_hourly) AS hourly,"
    " (SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = 'analytics')"
    " AS views"
)

# The Redshift analytics views the README's Analytics section documents (written by hand).
ANALYTICS_VIEWS = {
    "v_procedure_volume_weekly", "v_outcome_trend_monthly", "v_robot_utilization_daily", "v_robot_reliability",
    "v_facility_performance", "v_surgeon_learning_curve", "v_telemetry_health_daily", "v_failure_precursors",
    "v_patient_cohort_outcomes", "v_robot_inactivity", "v_orphan_telemetry", "v_ingest_reconciliation",
}


def lake(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, f"lake {args[0]} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("e2e")
    work, inp = root / "work", root / "work" / "input"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    server = server_url_from_env()
    if server:  # CI pointed us at a server: use a database of our own on it
        name = f"e2e_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{server.rpartition('/')[0]}/{name}"
    lake(
        "generate",
        "--out",
        str(inp),
        "--scale",
        "tiny",
        "--seed",
        SEED,
        "--dirty-rate",
        DIRTY_RATE,
        "--quiet",
        env=env,
    )
    lake("run", "--input", str(inp), "--workdir", str(work), "--report-json", str(root / "r1.json"), env=env)
    after_first = (work / "state" / "alerts.ndjson").read_text()
    lake("run", "--input", str(inp), "--workdir", str(work), "--report-json", str(root / "r2.json"), env=env)
    demo = lake(
        "demo", "--workdir", str(work), "--scale", "tiny", "--seed", SEED, "--dirty-rate", DIRTY_RATE, env=env
    )
    query = lake("query", QUERY, "--workdir", str(work), "--format", "json", env=env)
    alerts = lake("alerts", "--workdir", str(work), "--format", "json", env=env)
    return {
        "query": json.loads(query.stdout),
        "root": root,
        "work": work,
        "manifest": json.loads((inp / "_manifest.json").read_text())["entities"],
        "r1": json.loads((root / "r1.json").read_text()),
        "r2": json.loads((root / "r2.json").read_text()),
        "demo_report": json.loads((work / "report.json").read_text()),
        "demo_stdout": demo.stdout,
        "alerts_after_first_run": after_first,
        "alerts": json.loads(alerts.stdout),
    }


def _per_entity(objects: list[dict[str, Any]], field: str) -> Counter[str]:
    totals: Counter[str] = Counter()
    for obj in objects:
        totals[obj["entity"]] += obj[field]
    return totals


def test_first_run_loads_exactly_the_manifest(e2e):
    # GIVEN the generator's ground truth WHEN the first `lake run` is done
    manifest, report = e2e["manifest"], e2e["r1"]
    # THEN every table holds exactly the rows the manifest says load
    for entity in ENTITIES:
        assert report["tables"][entity] == manifest[entity]["loaded"], entity
    # AND the parked and quarantined rows are the manifest's parked and rejected rows
    assert report["parked"] == sum(m["parked"] for m in manifest.values())
    assert report["quarantined_rows"] == sum(m["rejected"] for m in manifest.values())
    # AND per entity, rows read and rows rejected add up to the manifest's
    assert _per_entity(report["objects"], "rows_in") == Counter(
        {e: m["rows_in"] for e, m in manifest.items()}
    )
    assert _per_entity(report["objects"], "rows_rejected") == Counter(
        {e: m["rejected"] for e, m in manifest.items() if m["rejected"]}
    )


def test_every_object_is_reported_and_adds_up(e2e):
    # GIVEN the first run's report
    objects = e2e["r1"]["objects"]
    # THEN each generated file is there once, none skipped or failed
    expected_keys = sorted(f for m in e2e["manifest"].values() for f in m["files"])
    assert sorted(o["key"] for o in objects) == expected_keys
    assert {o["status"] for o in objects} <= {"loaded", "partial", "rejected"}
    assert any(o["status"] == "partial" for o in objects)  # dirty data: some rows rejected
    # AND rows_in = loaded + parked + rejected for every object, with the fields the issue names
    for obj in objects:
        assert set(obj) == {
            "key",
            "entity",
            "status",
            "rows_in",
            "rows_loaded",
            "rows_parked",
            "rows_rejected",
            "unknown_columns",  # issue 11: names of columns the contract lacks
            "reason",  # issue 11: the whole-object reason of a rejected object
        }
        assert obj["status"] in STATUSES
        assert obj["rows_in"] == obj["rows_loaded"] + obj["rows_parked"] + obj["rows_rejected"], obj
        # the generator adds one column the contract lacks (generators/tables.py UNKNOWN_COLUMN): named, never read
        assert obj["unknown_columns"] == (["patient_ssn"] if obj["entity"] == UNKNOWN_COLUMN[0] else []), obj
    assert set(e2e["r1"]) == {"objects", "tables", "parked", "quarantined_rows", "dead_letters"}
    assert e2e["r1"]["dead_letters"] == 0


def test_hourly_rollup_covers_every_loaded_robot_arm_hour(e2e):
    # GIVEN the telemetry Parquet in the workdir's mirror of the processed bucket
    lake_root = e2e["work"] / "s3" / PROCESSED
    telemetry = ds.dataset(lake_root / "procedure_telemetry", format="parquet", partitioning="hive").to_table(
        columns=["robot_id", "arm_id", "timestamp"]
    )
    # WHEN we count distinct (robot, arm, UTC hour) ourselves
    hours = {
        (robot, arm, ts.replace(minute=0, second=0, microsecond=0))
        for robot, arm, ts in zip(
            telemetry["robot_id"].to_pylist(),
            telemetry["arm_id"].to_pylist(),
            telemetry["timestamp"].to_pylist(),
            strict=True,
        )
    }
    # THEN the rollup has one measured row per such hour (gap rows without a sample come on top)
    assert telemetry.num_rows == e2e["manifest"]["procedure_telemetry"]["loaded"]
    hourly = ds.dataset(lake_root / "telemetry_hourly", format="parquet", partitioning="hive").to_table(
        columns=["sample_count", "is_imputed"]).to_pylist()
    assert sum(1 for r in hourly if r["sample_count"] > 0 and not r["is_imputed"]) == len(hours) > 0
    assert e2e["r1"]["tables"]["telemetry_hourly"] == len(hourly)


def test_second_run_skips_everything_and_changes_no_count(e2e):
    # GIVEN the same input run again on the same workdir (a fresh stack restored from the workdir)
    r1, r2 = e2e["r1"], e2e["r2"]
    # THEN every object is skipped with zero rows, and no count moved
    assert {o["status"] for o in r2["objects"]} == {"skipped"}
    assert len(r2["objects"]) == len(r1["objects"])
    assert all(
        o["rows_in"] == o["rows_loaded"] == o["rows_parked"] == o["rows_rejected"] == 0 for o in r2["objects"]
    )
    assert (r2["tables"], r2["parked"], r2["quarantined_rows"]) == (
        r1["tables"],
        r1["parked"],
        r1["quarantined_rows"],
    )


def test_demo_on_the_same_workdir_reports_and_renders(e2e, tmp_path):
    # GIVEN `lake demo` with the same generator options on that workdir
    demo = e2e["demo_report"]
    # THEN it regenerated byte-identical input, so everything is skipped and counts hold
    assert {o["status"] for o in demo["objects"]} == {"skipped"}
    assert demo["tables"] == e2e["r1"]["tables"]
    # AND its terminal summary names every table, the alerts, their accuracy, the trend classes
    # and the stage timings; "now" is the data's last timestamp (2025), not today
    out = e2e["demo_stdout"]
    assert all(entity in out for entity in LOAD_ORDER) and "timings:" in out
    # AND it ends with the command that serves the API and an admin token the workdir's key signed
    from api.tokens import signing_key, verify

    assert f"lake serve --workdir {Path(e2e['work']).resolve()}" in out
    token = next(line.strip() for line in out.splitlines() if line.strip().startswith("eyJ"))
    assert verify(signing_key(Path(e2e["work"]).resolve() / "state"), token).admin
    # AND report.html renders in Chromium with a reconciliation row per entity, and points to the dashboard
    dom = dump_dom(e2e["work"] / "report.html", tmp_path / "profile")
    assert all(f"<td>{entity}</td>" in dom for entity in ENTITIES)
    assert "--open" in dom and "dashboard (charts" in out
    assert "alerts raised:" in out and "alert accuracy" in out and "v_facility_outcome_trend_class" in out
    assert "analytics as of 2025-" in out
    html = (e2e["work"] / "report.html").read_text()
    assert "Alerts raised by this run" in html and "Trend classes" in html and "Alert accuracy" in html


def test_query_sees_rds_lake_and_views_under_their_redshift_names(e2e):
    # GIVEN `lake query` on the workdir after the runs
    (row,) = e2e["query"]
    manifest, tables = e2e["manifest"], e2e["r1"]["tables"]
    # THEN RDS tables are visible unqualified and under rds./rds_etl., the lake under lake.
    assert row["unqualified"] == row["rds"] == manifest["surgical_robots"]["loaded"]
    assert row["ledger"] == len(e2e["r1"]["objects"])
    assert row["telemetry"] == manifest["procedure_telemetry"]["loaded"]
    assert row["hourly"] == tables["telemetry_hourly"]
    # AND the analytics views the README documents exist, under their Redshift names
    assert set((row["views"] or "").split(",")) >= ANALYTICS_VIEWS


def test_alerts_are_raised_once_and_listed(e2e):
    # GIVEN the first run raised alerts (the generator drifts telemetry before failures)
    first = [json.loads(line) for line in e2e["alerts_after_first_run"].splitlines()]
    assert first
    # THEN the second run (same input) and the demo (everything skipped) raised none again
    assert e2e["alerts"] == first
    assert len({a["alert_id"] for a in first}) == len(first)
    # AND each event has the documented shape, with the robot's facility, and no patient data
    for alert in first:
        assert set(alert) == {"schema_version", "alert_id", "kind", "robot_id", "facility_id", "metric",
                              "first_hour", "last_hour", "anomalous_hours", "peak_z", "detected_at"}
        assert alert["facility_id"].startswith("FAC-") and alert["first_hour"] <= alert["last_hour"]

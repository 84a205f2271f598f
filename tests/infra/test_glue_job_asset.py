"""The Glue job as deployed: the staged script, run through its entry point, with the staged
`--extra-py-files` package and the job's default arguments from the template.

How this differs from AWS Glue 5.0 (which runs Spark 3.5.4 on Python 3.11, the pins and
interpreter of this venv): Spark runs in local mode; `awsglue` is a stub of its entry shim
(tests/infra/awsglue_stub says what it leaves out); s3://<processed bucket> is a local folder
mounted through Hadoop's ViewFileSystemOverloadScheme instead of EMRFS; the Glue Data Catalog is
moto's, reached through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.catalog import create_tables
from lake.contract import ENTITIES, arrow_schema, lake_data_columns
from local.stack.moto_server import MotoServer

STUB = Path(__file__).resolve().parent / "awsglue_stub"
BUCKET = "surgical-lake-dev-processed-123456789012-us-east-1"
TELEMETRY = ENTITIES["procedure_telemetry"]


def _asset_source(synth, s3_url: dict[str, str]) -> Path:
    """The staged source of an asset the template names by its S3 URL (Fn::Sub ...<hash>.ext)."""
    object_key = s3_url["Fn::Sub"].rsplit("/", 1)[1]
    manifest = json.loads((synth.outdir / f"{synth.stack.stack_name}.assets.json").read_text())
    (entry,) = [f for h, f in manifest["files"].items() if object_key.startswith(h)]
    return synth.outdir / entry["source"]["path"]


def _zip_like_cdk_publish(folder: Path, target: Path) -> Path:
    """The zip `cdk deploy` uploads for a folder asset: the folder's contents at the zip root."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return target


def _write_samples(root: Path, robot: str, day: str, rows: list[tuple[str, float]]) -> None:
    """(timestamp, force) samples as the ingest lays them out (arm 1, other metrics constant)."""
    table = pa.table({
        "telemetry_id": [f"{robot}-{ts}" for ts, _ in rows],
        "procedure_id": ["PROC-000001"] * len(rows),
        "timestamp": [dt.datetime.fromisoformat(ts) for ts, _ in rows],
        "arm_id": [1] * len(rows),
        "joint_angle_deg": [10.0] * len(rows),
        "force_newtons": [force for _, force in rows],
        "torque_nm": [1.0] * len(rows),
        "motor_temp_c": [40.0] * len(rows),
        "latency_ms": [2.0] * len(rows),
        "error_code": [None] * len(rows),
    }).cast(arrow_schema(lake_data_columns(TELEMETRY.stored_columns(), TELEMETRY.partition_keys)))
    folder = root / "procedure_telemetry" / f"date={day}" / f"robot_id={robot}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"{robot}-{day}-{len(list(folder.iterdir()))}.parquet", compression="zstd")


@pytest.fixture
def moto(tmp_path: Path):
    server = MotoServer(tmp_path / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


def test_the_job_entry_point_runs_from_its_assets_and_registers_its_partitions(dev, moto, tmp_path: Path) -> None:
    job = dev.one("AWS::Glue::Job")
    args = job["DefaultArguments"]
    database = args["--GLUE_DATABASE"]  # a literal in the template: the per-environment name
    # GIVEN the script and the --extra-py-files package exactly as synthesized (zipped as published)
    script = _asset_source(dev, job["Command"]["ScriptLocation"])
    library = _zip_like_cdk_publish(_asset_source(dev, args["--extra-py-files"]), tmp_path / "lake.zip")
    # AND the catalog as the stack creates it, and telemetry where the ingest writes it
    glue = boto3.client("glue", endpoint_url=moto.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    glue.create_database(DatabaseInput={"Name": database})
    create_tables(glue, database, BUCKET)
    bucket_dir = tmp_path / "bucket"
    _write_samples(bucket_dir, "ROBOT-0001", "2025-03-03", [("2025-03-03T08:05:00+00:00", 2.0),
                                                            ("2025-03-03T08:35:00+00:00", 4.0),
                                                            ("2025-03-03T08:50:00+00:00", 6.0)])
    _write_samples(bucket_dir, "ROBOT-0002", "2025-03-04", [("2025-03-04T09:00:00+00:00", 10.0)])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "PYSPARK"))},
        "PYTHONPATH": os.pathsep.join([str(library), str(STUB)]),  # Glue puts --extra-py-files here
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_SUBMIT_ARGS": " ".join([
            "--master local[2] --conf spark.ui.enabled=false",
            "--conf spark.hadoop.fs.s3.impl=org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme",
            "--conf spark.hadoop.fs.viewfs.overload.scheme.target.s3.impl=org.apache.hadoop.fs.RawLocalFileSystem",
            f"--conf spark.hadoop.fs.viewfs.mounttable.{BUCKET}.linkFallback={bucket_dir.as_uri()}",
            "pyspark-shell"]),
        "AWS_ENDPOINT_URL": moto.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }
    # Glue's argv: the job's default arguments (the bucket is a reference: its name filled in)
    argv = [a for k, v in args.items() for a in (k, BUCKET if k == "--PROCESSED_BUCKET" else str(v))]

    def run_job() -> subprocess.CompletedProcess[str]:
        check = "import lake, sys; assert lake.__file__.startswith(sys.argv[1]), lake.__file__"
        subprocess.run([sys.executable, "-c", check, str(library)], env=env, cwd=tmp_path, check=True)
        return subprocess.run([sys.executable, str(script), "--JOB_NAME", job["Name"], *argv], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)

    # WHEN Glue runs the job
    first = run_job()
    # THEN it succeeded, wrote the hand-computed hourly rows and registered every partition it wrote
    assert first.returncode == 0, first.stderr[-3000:]
    assert "awsglue stub: job committed" in first.stdout
    hourly = pq.read_table(bucket_dir / "telemetry_hourly").to_pylist()
    assert sorted((r["robot_id"], str(r["date"]), r["sample_count"], r["force_newtons_min"], r["force_newtons_avg"],
                   r["force_newtons_max"]) for r in hourly) == [("ROBOT-0001", "2025-03-03", 3, 2.0, 4.0, 6.0),
                                                                ("ROBOT-0002", "2025-03-04", 1, 10.0, 10.0, 10.0)]

    def registered(table: str) -> list[tuple[str, str]]:
        parts = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
        return sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in parts)

    expected = {table: [(d, f"s3://{BUCKET}/{table}/date={d}/") for d in ("2025-03-03", "2025-03-04")]
                for table in ("telemetry_hourly", "telemetry_anomalies")}
    assert {t: registered(t) for t in expected} == expected
    # WHEN a late sample arrives for a date whose partitions are registered, and the job runs again
    _write_samples(bucket_dir, "ROBOT-0001", "2025-03-03", [("2025-03-03T08:55:00+00:00", 8.0)])
    second = run_job()
    # THEN "already registered" is fine (the run succeeds), and the hour is recomputed
    assert second.returncode == 0, second.stderr[-3000:]
    assert {t: registered(t) for t in expected} == expected
    hourly = {r["robot_id"]: r for r in pq.read_table(bucket_dir / "telemetry_hourly").to_pylist()}
    assert (hourly["ROBOT-0001"]["sample_count"], hourly["ROBOT-0001"]["force_newtons_avg"]) == (4, 5.0)
    shutil.rmtree(bucket_dir)

"""`lake up`: a running stack that processes uploads like AWS, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import psycopg
import pytest

from infra.config import load_config
from local.stack.aws_resources import LocalNames
from local.stack.postgres_server import free_port

REPO = Path(__file__).resolve().parents[2]
ROBOTS_CSV = (
    "robot_id,serial_number,model,manufacturer,facility_id,facility_name,install_date,firmware_version,status\n"
    "ROBOT-0001,SN-000001,da Vinci Xi,Intuitive,FAC-001,General,2021-05-01,4.2.1,active\n"
    "ROBOT-0002,SN-000002,Hugo RAS,Medtronic,FAC-002,Mercy,2022-01-10,1.0.3,active\n"
)


def _read_banner(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if line.startswith("then: lake query"):
            return "".join(lines)
    pytest.fail("lake up printed no banner:\n" + "".join(lines))


def _wait_for(query: str, url: str, expected: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            if conn.execute(query).fetchone() == expected:
                return
        time.sleep(0.5)
    pytest.fail(f"{query} never returned {expected}")


@pytest.mark.slow
def test_up_processes_an_upload_and_keeps_state_after_ctrl_c(tmp_path, empty_db):
    # GIVEN `lake up` on a fresh workdir (database: a fresh one on the test server)
    env = {**os.environ, "DATABASE_URL": empty_db}
    work = tmp_path / "work"
    api_port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "up", "--workdir", str(work), "--rollup-after", "3600",
         "--api-port", str(api_port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = _read_banner(proc)
        endpoint = re.search(r"AWS endpoint\s+(http://127\.0\.0\.1:\d+)", banner).group(1)
        names = LocalNames.from_config(load_config())
        assert names.buckets["raw"] in banner and f"aws --endpoint-url {endpoint} s3 cp" in banner
        # WHEN a producer uploads a robots file to the raw bucket, as with `aws s3 cp`
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=names.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.put_object(Bucket=names.buckets["raw"], Key="surgical_robots/r.csv", Body=ROBOTS_CSV.encode())
        # THEN the running stack ingests it into RDS
        try:
            _wait_for("SELECT status, rows_loaded FROM etl.ingest_ledger", empty_db, ("loaded", 2))
        except BaseException:
            proc.send_signal(signal.SIGINT)
            print(proc.communicate(timeout=60)[0])
            raise
        _wait_for("SELECT count(*) FROM surgical_robots", empty_db, (2,))
        # AND the query API it serves answers with the new rows, for a token scoped to one facility
        token = subprocess.run([sys.executable, "-m", "cli", "token", "--workdir", str(work), "--facility",
                                "FAC-002"], cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
        request = urllib.request.Request(f"http://127.0.0.1:{api_port}/v1/robots",
                                         headers={"Authorization": f"Bearer {token.strip()}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert [r["robot_id"] for r in json.load(response)["data"]] == ["ROBOT-0002"]
        # WHEN a message sits in the DLQ of the running stack (an S3 test event: it names no object)
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=names.region,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=names.dlq)["QueueUrl"],
                         MessageBody=json.dumps({"Event": "s3:TestEvent"}))
        # THEN `lake status` counts it and `lake redrive` hands it to the running `lake up`, in its region
        status = subprocess.run([sys.executable, "-m", "cli", "status", "--workdir", str(work)], cwd=REPO,
                                env=env, capture_output=True, text=True, check=True).stdout
        assert "DLQ depth: 1" in status
        redrive = subprocess.run([sys.executable, "-m", "cli", "redrive", "--workdir", str(work)], cwd=REPO,
                                 env=env, capture_output=True, text=True, check=True).stdout
        assert "moved 1 messages from the DLQ to the ingest queue; the running `lake up` processes them" in redrive
    finally:
        # WHEN Ctrl-C arrives
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    # THEN it exits cleanly, having mirrored the raw object into the workdir
    assert proc.returncode == 0, out
    mirrored = work / "s3" / names.buckets["raw"] / "surgical_robots" / "r.csv"
    assert mirrored.read_text() == ROBOTS_CSV

"""`lake verify`: end to end on local mode, and the AWS form's wiring against moto and fakes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cli.main import main
from verify.aws import WAREHOUSE_DB, AwsTarget
from verify.checks import Check, VerifyRun, report
from verify.run import Timing, verify, wait_until_settled

CHECK_NAMES = [
    "files uploaded to the raw bucket", "ingest queue drained", "no new message in the DLQ",
    "ledger: objects finished / recorded", "ledger: rows in", "ledger: rows rejected",
    "rows in surgical_robots", "rows in surgical_procedures", "rows in procedure_outcomes",
    "rows in robot_maintenance_logs", "rows in the lake table procedure_telemetry",
]


def _verdicts(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    return {re.sub(r" \(waited \d+ s\)", "", line[6:].split(": expected")[0]): line[:4] for line in lines}


@pytest.mark.slow
def test_local_verify_passes_and_can_run_again_on_the_same_workdir(tmp_path: Path, empty_db: str,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a fresh local-mode workdir (its database on the test server)
    monkeypatch.setenv("DATABASE_URL", empty_db)
    workdir = tmp_path / "work"
    # WHEN `lake verify --workdir` runs, twice
    first = main(["verify", "--workdir", str(workdir)])
    out_first = capsys.readouterr().out
    second = main(["verify", "--workdir", str(workdir)])
    out_second = capsys.readouterr().out
    # THEN every check passes both times: the second run's counts are its own, not the sum
    assert first == 0, out_first
    assert _verdicts(out_first) == dict.fromkeys(CHECK_NAMES, "PASS")
    assert second == 0, out_second
    assert _verdicts(out_second) == dict.fromkeys(CHECK_NAMES, "PASS")
    # AND the numbers are the tiny scale's (5 robots, 100 procedures, 20 maintenance logs), read
    # back from the engines; the lake's count equals the manifest's
    assert "PASS  rows in surgical_robots: expected 5, got 5" in out_second
    assert "PASS  rows in surgical_procedures: expected 100, got 100" in out_second
    assert "PASS  rows in robot_maintenance_logs: expected 20, got 20" in out_second
    manifest_line = next(line for line in out_second.splitlines() if "lake table" in line)
    assert re.search(r"expected (\d+), got \1$", manifest_line)


MANIFEST: dict[str, Any] = {"entities": {
    "surgical_robots": {"rows_in": 2, "loaded": 2, "parked": 0, "rejected": 0},
    "surgical_procedures": {"rows_in": 3, "loaded": 3, "parked": 0, "rejected": 0},
    "procedure_outcomes": {"rows_in": 3, "loaded": 2, "parked": 0, "rejected": 1},
    "robot_maintenance_logs": {"rows_in": 1, "loaded": 1, "parked": 0, "rejected": 0},
    "procedure_telemetry": {"rows_in": 10, "loaded": 10, "parked": 0, "rejected": 0},
}}


def _run(tmp_path: Path) -> VerifyRun:
    files = []
    for entity in MANIFEST["entities"]:
        path = tmp_path / entity / "part-1.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
        files.append((path, f"{entity}/part-1.csv"))
    return VerifyRun("20260101T000000Z-abcd", MANIFEST, tuple(files))


def test_checks_compare_each_count_with_the_manifest(tmp_path: Path) -> None:
    run = _run(tmp_path)
    # GIVEN engine answers where the outcomes table lost a row
    checks = report(run, uploaded=5, settled=True, waited_s=12.4, dlq_before=1, dlq_after=1,
                    rds_rows={"surgical_robots": 2, "surgical_procedures": 3, "procedure_outcomes": 1,
                              "robot_maintenance_logs": 1}, ledger=(5, 5, 19, 1), lake_rows=10)
    # THEN exactly that check fails, with both numbers
    assert [c.line() for c in checks if not c.passed] == ["FAIL  rows in procedure_outcomes: expected 2, got 1"]
    assert checks[1].line() == "PASS  ingest queue drained (waited 12 s): expected True, got True"
    assert run.key("procedure_outcomes/part-1.csv") == "procedure_outcomes/verify-20260101T000000Z-abcd/part-1.csv"
    assert Check("x", (1, 2), (1, 2)).passed and not Check("x", 0, 1).passed


class FakeQueue:
    def __init__(self, depths: list[int]) -> None:
        self.depths = iter(depths)

    def drain(self) -> None:
        """Nothing: depths are scripted."""

    def queue_depths(self) -> tuple[int, int]:
        return next(self.depths), 0


def test_settled_means_several_empty_polls_in_a_row_and_gives_up_at_the_timeout() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    timing = Timing(timeout_s=100, poll_s=10, quiet_polls=3)
    # GIVEN a queue that looks empty once (notifications still arriving), then drains
    settled = wait_until_settled(FakeQueue([4, 0, 2, 0, 0, 0]), timing, lambda _: None, lambda: now[0], sleep)  # type: ignore[arg-type]
    assert settled == (True, 50.0)
    # AND one that never drains
    now[0] = 0.0
    assert wait_until_settled(FakeQueue([5] * 20), timing, lambda _: None, lambda: now[0], sleep) == (False, 100.0)  # type: ignore[arg-type]


class FakeWarehouse:
    """redshift-serverless + redshift-data: records SQL, answers from `answers` (first matching word)."""

    def __init__(self, answers: dict[str, list[list[int]]]) -> None:
        self.answers = answers
        self.statements: list[dict[str, str]] = []

    def get_workgroup(self, workgroupName: str) -> dict[str, Any]:  # noqa: N803
        return {"workgroup": {"namespaceName": "surgical-lake-dev-ns"}}

    def get_namespace(self, namespaceName: str) -> dict[str, Any]:  # noqa: N803
        return {"namespace": {"adminPasswordSecretArn": f"arn:secret:redshift!{namespaceName}-admin"}}

    def execute_statement(self, **kwargs: str) -> dict[str, str]:
        self.statements.append(kwargs)
        return {"Id": str(len(self.statements) - 1)}

    def describe_statement(self, Id: str) -> dict[str, str]:  # noqa: N803
        return {"Status": "FINISHED"}

    def get_statement_result(self, Id: str) -> dict[str, Any]:  # noqa: N803
        sql = self.statements[int(Id)]["Sql"]
        rows = next(v for k, v in self.answers.items() if k in sql)
        return {"Records": [[{"longValue": v} for v in row] for row in rows]}


class FakeAthena:
    def __init__(self, count: int) -> None:
        self.count = count
        self.queries: list[dict[str, Any]] = []

    def start_query_execution(self, **kwargs: Any) -> dict[str, str]:
        self.queries.append(kwargs)
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        return {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}

    def get_query_results(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        return {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "_col0"}]},
                                       {"Data": [{"VarCharValue": str(self.count)}]}]}}


STACK_TEMPLATE = {
    "Resources": {"Raw": {"Type": "AWS::S3::Bucket"}, "Queue": {"Type": "AWS::SQS::Queue"},
                  "Dlq": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "RawBucket": {"Value": {"Ref": "Raw"}}, "IngestQueueUrl": {"Value": {"Ref": "Queue"}},
        "IngestDlqUrl": {"Value": {"Ref": "Dlq"}}, "RedshiftWorkgroup": {"Value": "surgical-lake-dev-wg"},
        "AthenaWorkGroup": {"Value": "surgical-lake-dev-athena"}, "GlueDatabase": {"Value": "surgical_lake_dev"},
    },
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_aws_form_uploads_to_the_stack_and_asks_redshift_and_athena_for_this_runs_rows(aws, tmp_path: Path) -> None:
    # GIVEN a stack with the outputs `lake verify` reads (moto's CloudFormation, S3 and SQS; moto
    # runs no Lambda, so nothing drains the queue, and no SQL: Redshift and Athena are fakes)
    boto3.client("cloudformation").create_stack(StackName="surgical-lake-dev", TemplateBody=json.dumps(STACK_TEMPLATE))
    warehouse = FakeWarehouse({"rds.surgical_robots": [[2]], "rds.surgical_procedures": [[3]],
                               "rds.procedure_outcomes": [[2]], "rds.robot_maintenance_logs": [[1]],
                               "ingest_ledger": [[5, 5, 19, 1]]})
    athena = FakeAthena(count=10)
    fakes = {"redshift-serverless": warehouse, "redshift-data": warehouse, "athena": athena}
    target = AwsTarget("surgical-lake-dev", lambda service: fakes.get(service) or boto3.client(service),
                       sleep=lambda _: None)
    run = _run(tmp_path)
    # WHEN verified (the queue gets a message by hand: what S3 would send, never consumed here)
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=target.outputs["IngestQueueUrl"], MessageBody="{}")
    lines: list[str] = []
    checks = verify(target, run, lines.append, Timing(timeout_s=0.3, poll_s=0.1, quiet_polls=3))
    # THEN the files are in the stack's raw bucket under the run's marker
    keys = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=target.raw_bucket)["Contents"])
    assert keys == sorted(f"{e}/verify-20260101T000000Z-abcd/part-1.csv" for e in MANIFEST["entities"])
    # AND the queue that never drained fails its check; the counts pass
    assert {c.name.split(" (")[0]: c.passed for c in checks} == {
        **{name: True for name in CHECK_NAMES}, "ingest queue drained": False}
    # AND Redshift ran on the workgroup's database with the managed admin secret, scoped to the run
    assert {(s["WorkgroupName"], s["Database"], s["SecretArn"]) for s in warehouse.statements} == {
        ("surgical-lake-dev-wg", WAREHOUSE_DB, "arn:secret:redshift!surgical-lake-dev-ns-admin")}
    assert all("LIKE '%/verify-20260101T000000Z-abcd/%'" in s["Sql"] for s in warehouse.statements)
    # AND Athena counted the telemetry files of this run's object in the stack's workgroup
    (query,) = athena.queries
    assert query["WorkGroup"] == "surgical-lake-dev-athena"
    assert query["QueryExecutionContext"] == {"Database": "surgical_lake_dev"}
    assert re.fullmatch(r"SELECT count\(\*\) FROM procedure_telemetry WHERE \"\$path\" LIKE "
                        r"'%/part-1\.csv-[0-9a-f]{8}-%'", query["QueryString"])
    assert lines[-1] == "10 of 11 checks passed on stack surgical-lake-dev (run 20260101T000000Z-abcd)"


def test_a_missing_stack_or_credentials_is_one_clear_line(aws, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--stack", "no-such-stack"]) == 2
    assert "error: stack no-such-stack: Stack with id no-such-stack does not exist" in capsys.readouterr().err
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["verify", "--stack", "surgical-lake-dev"]) == 2
    assert "error: no AWS credentials found" in capsys.readouterr().err

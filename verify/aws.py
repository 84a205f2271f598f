"""`lake verify --stack NAME`: the checks against a deployed stack.

Names come from the stack's outputs (raw bucket, ingest queue and DLQ, Redshift workgroup, Athena
workgroup, Glue database). Warehouse SQL runs through the Redshift Data API on the workgroup with
the admin secret Redshift manages (its ARN read from the namespace, as the deploy does); lake rows
are counted by Athena in the stack's workgroup, using its `"$path"` column to keep only this run's
files. The caller's credentials need: cloudformation:DescribeStacks, s3:PutObject on the raw bucket
(and kms:GenerateDataKey on its key), sqs:GetQueueAttributes, redshift-serverless:GetWorkgroup and
GetNamespace, redshift-data:*Statement*, secretsmanager:GetSecretValue on that secret, and Athena
in the workgroup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from verify.checks import VerifyError

OUTPUTS = ("RawBucket", "IngestQueueUrl", "IngestDlqUrl", "RedshiftWorkgroup", "AthenaWorkGroup", "GlueDatabase")
WAREHOUSE_DB = "analytics"  # infra/warehouse.py: the namespace's database
QUERY_TIMEOUT_S = 300.0


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The outputs `lake verify` needs; VerifyError when the stack or an output is missing."""
    from botocore.exceptions import ClientError

    try:
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        raise VerifyError(f"stack {stack}: {exc.response['Error'].get('Message', exc)}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [name for name in OUTPUTS if name not in outputs]
    if missing:
        raise VerifyError(f"stack {stack} has no outputs {missing}: is it a surgical-lake stack, fully deployed?")
    return outputs


def _wait(describe: Callable[[], Mapping[str, Any]], state: Callable[[Mapping[str, Any]], str], done: set[str],
          what: str, sleep: Callable[[float], None]) -> Mapping[str, Any]:
    waited = 0.0
    while True:
        status = describe()
        if state(status) in done:
            return status
        if waited >= QUERY_TIMEOUT_S:
            raise VerifyError(f"{what} still {state(status)} after {QUERY_TIMEOUT_S:.0f} s")
        sleep(1.0)
        waited += 1.0


class AwsTarget:
    def __init__(self, stack: str, clients: Callable[[str], Any], sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = clients
        self._sleep = sleep
        self.outputs = stack_outputs(clients("cloudformation"), stack)
        self.raw_bucket = self.outputs["RawBucket"]
        self.description = f"stack {stack}"
        self._secret_arn: str | None = None

    def upload(self, path: Path, key: str) -> None:
        self._client("s3").upload_file(str(path), self.raw_bucket, key)

    def queue_depths(self) -> tuple[int, int]:
        sqs = self._client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        depths = []
        for url in (self.outputs["IngestQueueUrl"], self.outputs["IngestDlqUrl"]):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            depths.append(sum(int(attrs.get(n, 0)) for n in names))
        return depths[0], depths[1]

    def drain(self) -> None:
        """The deployed Lambda drains the queue by itself."""

    def _admin_secret(self) -> str:
        if self._secret_arn is None:
            serverless = self._client("redshift-serverless")
            workgroup = serverless.get_workgroup(workgroupName=self.outputs["RedshiftWorkgroup"])["workgroup"]
            namespace = serverless.get_namespace(namespaceName=workgroup["namespaceName"])["namespace"]
            self._secret_arn = namespace.get("adminPasswordSecretArn")
            if not self._secret_arn:
                raise VerifyError(f"namespace {workgroup['namespaceName']} has no managed admin secret")
        return self._secret_arn

    def warehouse_query(self, sql: str) -> list[tuple[int, ...]]:
        data = self._client("redshift-data")
        statement = data.execute_statement(WorkgroupName=self.outputs["RedshiftWorkgroup"], Database=WAREHOUSE_DB,
                                           SecretArn=self._admin_secret(), Sql=sql)["Id"]
        status = _wait(lambda: data.describe_statement(Id=statement), lambda s: s["Status"],
                       {"FINISHED", "FAILED", "ABORTED"}, "Redshift statement", self._sleep)
        if status["Status"] != "FINISHED":
            raise VerifyError(f"Redshift: {status['Status']}: {status.get('Error', 'no message')} ({sql})")
        records = data.get_statement_result(Id=statement)["Records"]
        return [tuple(int(next(iter(field.values()))) for field in record) for record in records]

    def lake_rows(self, table: str, file_prefixes: Sequence[str]) -> int:
        if not file_prefixes:
            return 0
        athena = self._client("athena")
        paths = " OR ".join(f"\"$path\" LIKE '%/{prefix}%'" for prefix in file_prefixes)
        query = athena.start_query_execution(
            QueryString=f"SELECT count(*) FROM {table} WHERE {paths}", WorkGroup=self.outputs["AthenaWorkGroup"],
            QueryExecutionContext={"Database": self.outputs["GlueDatabase"]})["QueryExecutionId"]
        status = _wait(lambda: athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"],
                       lambda s: s["State"], {"SUCCEEDED", "FAILED", "CANCELLED"}, "Athena query", self._sleep)
        if status["State"] != "SUCCEEDED":
            raise VerifyError(f"Athena: {status['State']}: {status.get('StateChangeReason', 'no reason')}")
        rows = athena.get_query_results(QueryExecutionId=query)["ResultSet"]["Rows"]
        return int(rows[1]["Data"][0]["VarCharValue"])  # row 0 is the header

    def close(self) -> None:
        """Nothing to stop."""


def aws_clients(region: str | None) -> Callable[[str], Any]:
    """boto3 clients from the default credential chain; VerifyError when there are none."""
    import boto3
    from botocore.exceptions import NoRegionError

    session = boto3.session.Session(region_name=region)
    if session.get_credentials() is None:
        raise VerifyError("no AWS credentials found (set AWS_PROFILE, or run `aws configure` / `aws sso login`)")
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            try:
                cache[service] = session.client(service)
            except NoRegionError:
                raise VerifyError("no AWS region: pass --region or set AWS_REGION") from None
        return cache[service]

    return client

"""The one partition-registration function (ingest, Glue job and local mode all call it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lake.catalog import LAKE_GLUE_TABLES, PartitionRegistrationError, create_tables, register_partitions

DB, BUCKET = "lake_db", "processed-bucket"


@pytest.fixture
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's Glue with the tables as the stack declares them."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("glue")
        client.create_database(DatabaseInput={"Name": DB})
        create_tables(client, DB, BUCKET)
        yield client


def _partitions(glue: Any, table: str) -> list[tuple[list[str], str]]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=DB, TableName=table)
    return sorted((p["Values"], p["StorageDescriptor"]["Location"]) for page in pages for p in page["Partitions"])


def test_new_partitions_are_added_where_the_files_are_and_counted(glue) -> None:
    # WHEN two telemetry partitions are registered (one given twice)
    added = register_partitions(glue, DB, BUCKET, "procedure_telemetry",
                                [("2025-03-03", "ROBOT-0001"), ("2025-03-03", "ROBOT-0002"), ("2025-03-03", "ROBOT-0001")])
    # THEN both exist at their hive paths, with the table's columns and Parquet format
    assert added == 2
    assert _partitions(glue, "procedure_telemetry") == [
        (["2025-03-03", "ROBOT-0001"], "s3://processed-bucket/procedure_telemetry/date=2025-03-03/robot_id=ROBOT-0001/"),
        (["2025-03-03", "ROBOT-0002"], "s3://processed-bucket/procedure_telemetry/date=2025-03-03/robot_id=ROBOT-0002/"),
    ]
    part = glue.get_partition(DatabaseName=DB, TableName="procedure_telemetry",
                              PartitionValues=["2025-03-03", "ROBOT-0001"])["Partition"]
    columns = [c["Name"] for c in part["StorageDescriptor"]["Columns"]]
    assert columns == [c.name for c in LAKE_GLUE_TABLES["procedure_telemetry"].data_columns]
    assert part["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")


def test_already_registered_is_fine_and_not_counted(glue) -> None:
    register_partitions(glue, DB, BUCKET, "telemetry_hourly", [("2025-03-01",)])
    assert register_partitions(glue, DB, BUCKET, "telemetry_hourly", [("2025-03-01",), ("2025-03-02",)]) == 1
    assert [v for v, _ in _partitions(glue, "telemetry_hourly")] == [["2025-03-01"], ["2025-03-02"]]


def test_more_than_a_batch_is_registered_in_chunks_of_100(glue) -> None:
    dates = [(f"2025-{m:02d}-{d:02d}",) for m in range(1, 8) for d in range(1, 29)]  # 196 dates
    assert register_partitions(glue, DB, BUCKET, "telemetry_anomalies", dates) == 196
    assert len(_partitions(glue, "telemetry_anomalies")) == 196


class RefusingGlue:
    """moto's client, except BatchCreatePartition reports one partition refused for another
    reason than existing (moto only ever reports AlreadyExistsException)."""

    def __init__(self, glue: Any, code: str) -> None:
        self.glue, self.code = glue, code

    def batch_create_partition(self, **kwargs: Any) -> dict[str, Any]:
        first, *rest = kwargs["PartitionInputList"]
        response = self.glue.batch_create_partition(**{**kwargs, "PartitionInputList": rest}) if rest else {}
        return {"Errors": [*response.get("Errors", []), {"PartitionValues": first["Values"], "ErrorDetail": {
            "ErrorCode": self.code, "ErrorMessage": "Rate exceeded"}}]}


def test_any_other_refusal_raises_naming_the_partition_and_the_code(glue) -> None:
    # GIVEN Glue refusing one of two partitions (throttled)
    refusing = RefusingGlue(glue, "ThrottlingException")
    # WHEN registered THEN the caller fails (the ingest retries the object, the job run fails)
    with pytest.raises(PartitionRegistrationError,
                       match=r"lake_db.telemetry_hourly, e.g. \['2025-03-01'\]: ThrottlingException: Rate exceeded"):
        register_partitions(refusing, DB, BUCKET, "telemetry_hourly", [("2025-03-01",), ("2025-03-02",)])


def test_a_missing_table_is_an_error_not_created(glue) -> None:
    glue.delete_table(DatabaseName=DB, Name="telemetry_hourly")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        register_partitions(glue, DB, BUCKET, "telemetry_hourly", [("2025-03-01",)])
    assert "telemetry_hourly" not in {t["Name"] for t in glue.get_tables(DatabaseName=DB)["TableList"]}

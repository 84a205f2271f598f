"""The Glue catalog of the lake: its tables (derived from the data contract) and partitions.

One table definition for the CDK app (`infra/catalog.py`), local mode (`local/stack/aws_resources.py`)
and the tests, and one partition-registration function with one error policy for the three
writers of partitions: the ingest Lambda, the Glue rollup job and local mode. This package ships
inside the Lambda bundles and the Glue job's `--extra-py-files`, so they all run this code. No
CDK, no boto3 import: callers pass a Glue client.

Example:
    >>> spec = LAKE_GLUE_TABLES["telemetry_hourly"]
    >>> spec.partition_keys
    ('date',)
    >>> register_partitions(glue, "surgical_lake_dev", "my-processed-bucket", "telemetry_hourly",
    ...                     [("2025-03-01",), ("2025-03-02",)])
    2
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lake.contract import ENTITIES, LAKE_TABLES, Column, glue_columns, lake_data_columns
from lake.layout import partition_prefix

# BatchCreatePartition takes at most 100 partitions per call (AWS Glue API reference).
BATCH_CREATE_PARTITION_MAX = 100
# The per-partition error code Glue returns for a partition that is already registered
# (seen in CloudTrail's BatchCreatePartition errorDetail, and what moto returns).
ALREADY_EXISTS = "AlreadyExistsException"

PARQUET_FORMAT: dict[str, Any] = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


@dataclass(frozen=True)
class GlueTableSpec:
    """One Parquet table under the processed bucket: data columns and string partition keys."""

    name: str
    description: str
    data_columns: tuple[Column, ...]
    partition_keys: tuple[str, ...]

    @property
    def columns(self) -> list[dict[str, str]]:
        """Glue columns with CloudFormation's keys (`name`, `type`, `comment`)."""
        return glue_columns(self.data_columns)

    def storage_descriptor(self, location: str) -> dict[str, Any]:
        """A Glue API `StorageDescriptor` (boto3 spelling) for the table or one partition."""
        api_columns = [{"Name": c["name"], "Type": c["type"], "Comment": c["comment"]} for c in self.columns]
        return {"Columns": api_columns, "Location": location, **PARQUET_FORMAT}

    def partition_location(self, bucket: str, values: Sequence[str]) -> str:
        """`s3://bucket/<table>/k1=v1/k2=v2/` for partition values in partition-key order."""
        return f"s3://{bucket}/{partition_prefix(self.name, self.partition_keys, values)}"

    def table_input(self, bucket: str) -> dict[str, Any]:
        """A Glue API `TableInput` for `create_table` with the table at `s3://bucket/<name>/`."""
        return {
            "Name": self.name,
            "Description": self.description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in self.partition_keys],
            "StorageDescriptor": self.storage_descriptor(f"s3://{bucket}/{self.name}/"),
        }


def _specs() -> dict[str, GlueTableSpec]:
    telemetry = ENTITIES["procedure_telemetry"]
    specs = [
        GlueTableSpec(
            telemetry.name,
            telemetry.description,
            lake_data_columns(telemetry.stored_columns(), telemetry.partition_keys),
            telemetry.partition_keys,
        )
    ]
    specs += [
        GlueTableSpec(t.name, t.description, lake_data_columns(t.columns, t.partition_keys), t.partition_keys)
        for t in LAKE_TABLES.values()
    ]
    return {s.name: s for s in specs}


LAKE_GLUE_TABLES: dict[str, GlueTableSpec] = _specs()


class PartitionRegistrationError(RuntimeError):
    """Glue refused to register a partition for a reason other than it already existing."""


def create_tables(glue: Any, database: str, bucket: str) -> None:
    """Create every lake table in an existing Glue database, as the CDK app declares them.

    For local mode and the tests: in AWS the stack creates the tables, and nothing at run time
    may (the ingest's and the job's roles cannot `glue:CreateTable`).
    """
    for spec in LAKE_GLUE_TABLES.values():
        glue.create_table(DatabaseName=database, TableInput=spec.table_input(bucket))


def register_partitions(glue: Any, database: str, bucket: str, table: str,
                        partitions: Iterable[Sequence[str]]) -> int:
    """Register hive partitions of a lake table; how many were new.

    `partitions` are value tuples in the table's partition-key order; each is registered at
    `s3://bucket/<table>/k=v/.../` with the table's columns and Parquet format. The one error
    policy: a partition that already exists is fine; any other per-partition error raises
    PartitionRegistrationError (naming the table, the values and Glue's error code), so a
    partition never silently goes missing. API-level errors (an unknown table, access denied)
    propagate from the client. Calls BatchCreatePartition in chunks of 100 (the API's limit).
    """
    spec = LAKE_GLUE_TABLES[table]
    wanted = sorted({tuple(v) for v in partitions})
    added = 0
    for start in range(0, len(wanted), BATCH_CREATE_PARTITION_MAX):
        chunk = wanted[start:start + BATCH_CREATE_PARTITION_MAX]
        inputs = [{"Values": list(v), "StorageDescriptor": spec.storage_descriptor(spec.partition_location(bucket, v))}
                  for v in chunk]
        errors = glue.batch_create_partition(
            DatabaseName=database, TableName=table, PartitionInputList=inputs).get("Errors", [])
        failed = [e for e in errors if e.get("ErrorDetail", {}).get("ErrorCode") != ALREADY_EXISTS]
        if failed:
            first = failed[0]
            detail = first.get("ErrorDetail", {})
            raise PartitionRegistrationError(
                f"Glue could not register {len(failed)} partition(s) of {database}.{table}, e.g. "
                f"{first.get('PartitionValues')}: {detail.get('ErrorCode')}: {detail.get('ErrorMessage')}")
        added += len(chunk) - len(errors)
    return added

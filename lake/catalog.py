"""The Glue catalog tables of the lake, derived from the data contract.

One definition for the three places that register them: the CDK app (`infra/catalog.py`),
local mode (`local/resources.py`) and the ingest Lambda (which creates the telemetry table if
a deploy has not). Pure data: no CDK, no boto3.

Example:
    >>> spec = LAKE_GLUE_TABLES["telemetry_hourly"]
    >>> spec.partition_keys
    ('date',)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lake.contract import ENTITIES, LAKE_TABLES, Column, glue_columns, lake_data_columns

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

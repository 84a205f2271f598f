"""Glue catalog tables follow the data contract; the rollup job is encrypted and scheduled."""

from __future__ import annotations

from infra.catalog import GLUE_VERSION
from lake.catalog import LAKE_GLUE_TABLES
from lake.contract import ENTITIES, GLUE_TYPES, LAKE_TABLES


def _tables(synth) -> dict[str, dict]:
    return {t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
            for t in synth.resources("AWS::Glue::Table").values()}


def test_telemetry_table_columns_equal_the_contract(dev) -> None:
    # GIVEN the contract's telemetry entity, written by hand here as (name, Glue type) pairs
    entity = ENTITIES["procedure_telemetry"]
    expected = [(c.name, GLUE_TYPES[c.dtype]) for c in entity.stored_columns() if c.name not in ("date", "robot_id")]
    # WHEN the synthesized table is read back
    table = _tables(dev)["procedure_telemetry"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    # THEN the data columns are the contract's minus the partition keys, in contract order
    assert columns == expected
    assert ("timestamp", "timestamp") in columns and ("arm_id", "int") in columns
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("date", "string"), ("robot_id", "string")]


def test_rollup_tables_columns_equal_the_contract(dev) -> None:
    tables = _tables(dev)
    for name, lake_table in LAKE_TABLES.items():
        table = tables[name]
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert columns == [(c.name, GLUE_TYPES[c.dtype]) for c in lake_table.columns if c.name != "date"]
        assert [k["Name"] for k in table["PartitionKeys"]] == ["date"]


def test_tables_are_parquet_under_the_processed_bucket(dev) -> None:
    tables = _tables(dev)
    assert sorted(tables) == sorted(LAKE_GLUE_TABLES)
    for name, table in tables.items():
        sd = table["StorageDescriptor"]
        location = sd["Location"]["Fn::Join"][1]
        assert location[0] == "s3://" and location[1]["Ref"].startswith("StorageProcessed")
        assert location[2] == f"/{name}/"
        assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
        assert table["TableType"] == "EXTERNAL_TABLE"
    database = dev.one("AWS::Glue::Database")
    assert database["DatabaseInput"]["Name"] == dev.config.glue_database


def test_glue_security_configuration_encrypts_s3_logs_and_bookmarks(synth) -> None:
    enc = synth.one("AWS::Glue::SecurityConfiguration")["EncryptionConfiguration"]
    assert enc["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert enc["S3Encryptions"][0]["KmsKeyArn"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    assert enc["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert enc["CloudWatchEncryption"]["KmsKeyArn"]["Fn::GetAtt"][0].startswith("KeysOpsKey")
    assert enc["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_rollup_job_runs_glue5_in_the_vpc_without_flags_that_do_nothing(synth) -> None:
    job = synth.one("AWS::Glue::Job")
    security = synth.one("AWS::Glue::SecurityConfiguration")
    assert job["GlueVersion"] == GLUE_VERSION == "5.0"
    assert job["Command"]["Name"] == "glueetl"
    assert job["SecurityConfiguration"] == security["Name"]
    args = job["DefaultArguments"]
    # THEN no metrics flag (no CloudWatch endpoint in the isolated subnets), no continuous-logging
    # flag (Glue 5.0 ignores it), no bookmarks (the job reads with plain Spark, not DynamicFrames)
    assert not {"--enable-metrics", "--enable-continuous-cloudwatch-log", "--job-bookmark-option"} & set(args)
    # THEN the job gets the arguments glue_jobs/telemetry_rollup.py reads, and the lake package
    assert args["--GLUE_DATABASE"] == synth.config.glue_database
    assert args["--PROCESSED_BUCKET"]["Ref"].startswith("StorageProcessed")
    assert args["--extra-py-files"]["Fn::Sub"].endswith(".zip")
    assert job["NumberOfWorkers"] == synth.config.glue_workers
    connection = synth.one("AWS::Glue::Connection")["ConnectionInput"]
    assert connection["ConnectionType"] == "NETWORK"
    assert job["Connections"]["Connections"] == [connection["Name"]]


def test_rollup_job_is_scheduled(synth) -> None:
    trigger = synth.one("AWS::Glue::Trigger")
    job = synth.one("AWS::Glue::Job")
    assert trigger["Type"] == "SCHEDULED"
    assert trigger["Schedule"] == synth.config.rollup_schedule
    assert trigger["StartOnCreation"] is True
    assert trigger["Actions"] == [{"JobName": job["Name"]}]


def test_glue_library_asset_contains_the_lake_package(dev) -> None:
    # GIVEN the staged extra-py-files asset WHEN listed THEN lake/contract.py is importable from it
    staged = [p for p in dev.outdir.glob("asset.*") if (p / "lake" / "contract.py").exists()
              and not (p / "lambdas").exists()]
    assert len(staged) == 1

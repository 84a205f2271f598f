"""S3 put -> real S3 notification in SQS -> handler -> PostgreSQL rows + Parquet + ledger."""

from __future__ import annotations

from tests.lambdas.ingest.samples import (
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    ndjson,
    procedure,
    robot,
    telemetry,
)


def test_csv_and_ndjson_flow_through_the_handler_into_postgres_and_parquet(lake):
    # GIVEN two robots (CSV), one procedure (CSV) and three telemetry samples (NDJSON) uploaded
    lake.put("surgical_robots/robots.csv", csv_file(ROBOT_HEADER, [robot(1), robot(2)]))
    lake.put("surgical_procedures/procs.csv", csv_file(PROC_HEADER, [procedure(1)]))
    lake.put("procedure_telemetry/2025-03-03.ndjson",
             ndjson([telemetry(1), telemetry(2), telemetry(3, robot_n=2, ts="2025-03-03T23:59:59+00:00")]))
    # WHEN the queue's messages (the S3 test event and three notifications) reach the handler
    event = lake.drain_queue()
    response = lake.invoke(event)
    # THEN nothing failed, every row is where it belongs and the ledger adds up
    assert response == {"batchItemFailures": []}
    assert lake.query("SELECT robot_id, src_key FROM surgical_robots ORDER BY 1") == [
        ("ROBOT-0001", "surgical_robots/robots.csv"), ("ROBOT-0002", "surgical_robots/robots.csv")]
    # born 1960-05-17, scheduled 2025-03-03: 64 (birthday not reached yet)
    assert lake.query("SELECT procedure_id, patient_age_at_procedure, patient_zip3 FROM surgical_procedures") == [
        ("PROC-000001", 64, "021")]
    files = lake.keys(lake.processed, "procedure_telemetry/")
    assert [f.rsplit("/", 1)[0] for f in files] == [
        "procedure_telemetry/date=2025-03-03/robot_id=ROBOT-0001",
        "procedure_telemetry/date=2025-03-03/robot_id=ROBOT-0002"]
    first = lake.parquet(files[0])
    assert first.num_rows == 2 and "robot_id" not in first.column_names
    ledger = {r["object_key"]: r for r in lake.ledger()}
    assert {k: (r["status"], r["rows_in"], r["rows_loaded"]) for k, r in ledger.items()} == {
        "surgical_robots/robots.csv": ("loaded", 2, 2),
        "surgical_procedures/procs.csv": ("loaded", 1, 1),
        "procedure_telemetry/2025-03-03.ndjson": ("loaded", 3, 3),
    }
    parts = lake.glue.get_partitions(DatabaseName="surgical_lake", TableName="procedure_telemetry")
    assert sorted(p["Values"][1] for p in parts["Partitions"]) == ["ROBOT-0001", "ROBOT-0002"]


def test_a_nul_character_quarantines_its_row_and_the_rest_of_the_object_loads(lake):
    # GIVEN a robots file whose second row holds U+0000, which PostgreSQL text cannot store
    lake.put("surgical_robots/robots.csv", csv_file(ROBOT_HEADER, [robot(1), robot(2).replace("Xi", "X\x00i")]))
    # WHEN it is ingested
    response = lake.invoke(lake.drain_queue())
    # THEN the message succeeds (no retry loop), the clean row loads and the other is quarantined
    assert response == {"batchItemFailures": []}
    assert lake.query("SELECT robot_id FROM surgical_robots") == [("ROBOT-0001",)]
    [reject] = lake.quarantine_lines(*lake.keys(lake.quarantine))
    assert (reject["line"], reject["reasons"]) == (3, ["bad_character"])
    assert [(r["status"], r["rows_loaded"], r["rows_rejected"]) for r in lake.ledger()] == [("partial", 1, 1)]

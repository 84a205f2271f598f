"""The restore path for an archived raw object (README "What the stack enforces", raw retention):
the ingest cannot read a Glacier object, the message is retried (then dead-lettered), a restore
makes it readable, and the redriven message loads it. moto stands in for S3's Glacier states:
GetObject on an unrestored GLACIER object fails with InvalidObjectState, as in AWS; moto
completes a restore at once (AWS: minutes to hours by retrieval tier)."""

from __future__ import annotations

from tests.lambdas.ingest.samples import ROBOT_HEADER, csv_file, robot


def test_an_archived_object_loads_after_a_restore_and_a_redrive(lake) -> None:
    # GIVEN a raw object that lifecycle has moved to Glacier
    key = "surgical_robots/2024-01-01.csv"
    version = lake.s3.put_object(Bucket=lake.raw, Key=key, Body=csv_file(ROBOT_HEADER, [robot(1)]),
                                 StorageClass="GLACIER")["VersionId"]
    event = lake.event_for(key, version)
    # WHEN its notification is processed THEN it fails (retried, then in the DLQ) and loads nothing
    assert lake.invoke(event)["batchItemFailures"] != []
    assert lake.query("SELECT count(*) FROM surgical_robots") == [(0,)]
    assert [(r["status"], r["error"]) for r in lake.ledger()] == [("failed", "InvalidObjectState")]
    # WHEN the operator restores it and the message is redriven
    lake.s3.restore_object(Bucket=lake.raw, Key=key, VersionId=version,
                           RestoreRequest={"Days": 7, "GlacierJobParameters": {"Tier": "Standard"}})
    # THEN it loads, as the same ledger row
    assert lake.invoke(event) == {"batchItemFailures": []}
    assert lake.query("SELECT robot_id FROM surgical_robots") == [("ROBOT-0001",)]
    assert [(r["status"], r["attempts"]) for r in lake.ledger()] == [("loaded", 2)]

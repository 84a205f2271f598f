"""Property: any arrival order (with duplicate deliveries) gives the same, hand-computed final tables."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lambdas.ingest.samples import (
    MAINT_HEADER,
    OUTCOME_HEADER,
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    maintenance,
    ndjson,
    outcome,
    procedure,
    robot,
    telemetry,
)

RESET = ("TRUNCATE surgical_robots, surgical_procedures, procedure_outcomes, robot_maintenance_logs,"
         " etl.ingest_ledger, etl.parked_rows, etl.lake_files CASCADE")


def _upload_versions(lake) -> list[tuple[str, str]]:
    """(key, version) of every object version; second versions are uploaded > 1 s later (S3 time resolution)."""
    first = [
        ("surgical_robots/fleet.csv", csv_file(ROBOT_HEADER, [robot(1, status="active"), robot(2)])),
        ("surgical_robots/extra.csv", csv_file(ROBOT_HEADER, [robot(3)])),
        ("surgical_procedures/p.csv", csv_file(PROC_HEADER, [procedure(1, robot_n=1), procedure(2, robot_n=3)])),
        ("procedure_outcomes/o.csv", csv_file(OUTCOME_HEADER, [outcome(1, 1), outcome(2, 2), outcome(3, 999)])),
        ("robot_maintenance_logs/m.csv", csv_file(MAINT_HEADER, [maintenance(1, robot_n=3)])),
        ("procedure_telemetry/t.ndjson", ndjson([telemetry(1, robot_n=1)])),
    ]
    second = [
        ("surgical_robots/fleet.csv", csv_file(ROBOT_HEADER, [robot(1, status="retired")])),
        ("procedure_telemetry/t.ndjson", ndjson([telemetry(2, robot_n=2)])),
    ]
    versions = [(k, lake.put(k, body)["VersionId"]) for k, body in first]
    time.sleep(1.1)
    return versions + [(k, lake.put(k, body)["VersionId"]) for k, body in second]


def _state(lake) -> dict[str, list[tuple]]:
    return {
        "robots": lake.query("SELECT robot_id, status, src_key FROM surgical_robots ORDER BY 1"),
        "procedures": lake.query("SELECT procedure_id, robot_id FROM surgical_procedures ORDER BY 1"),
        "outcomes": lake.query("SELECT outcome_id, procedure_id FROM procedure_outcomes ORDER BY 1"),
        "maintenance": lake.query("SELECT maintenance_id, robot_id FROM robot_maintenance_logs ORDER BY 1"),
        "parked": lake.query("SELECT entity, row_key, parent_key FROM etl.parked_rows ORDER BY 1, 2"),
        "telemetry": [(k.split("/")[2],) for k in lake.keys(lake.processed)],
    }


EXPECTED = {
    "robots": [("ROBOT-0001", "retired", "surgical_robots/fleet.csv"),
               ("ROBOT-0002", "active", "surgical_robots/fleet.csv"),
               ("ROBOT-0003", "active", "surgical_robots/extra.csv")],
    "procedures": [("PROC-000001", "ROBOT-0001"), ("PROC-000002", "ROBOT-0003")],
    "outcomes": [("OUT-000001", "PROC-000001"), ("OUT-000002", "PROC-000002")],
    "maintenance": [("MAINT-000001", "ROBOT-0003")],
    "parked": [("procedure_outcomes", "OUT-000003", "PROC-000999")],
    "telemetry": [("robot_id=ROBOT-0002",)],
}


def test_final_tables_do_not_depend_on_arrival_order(lake):
    versions = _upload_versions(lake)

    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(order=st.permutations(versions + versions[:2]))  # two duplicate deliveries
    def check(order):
        # GIVEN a clean database and lake
        lake.query_exec(RESET)
        for key in lake.keys(lake.processed):
            lake.s3.delete_object(Bucket=lake.processed, Key=key)
        # WHEN the notifications arrive in this order, one per batch
        for key, version in order:
            assert lake.invoke(lake.event_for(key, version)) == {"batchItemFailures": []}
        # THEN the final state is the hand-computed one: newer versions win, children of late parents
        # were parked and loaded when the parent came, the orphan outcome is still parked
        assert _state(lake) == EXPECTED
        ledger = lake.ledger()
        assert len(ledger) == len(versions) and sum(r["replays_skipped"] for r in ledger) == 2

    check()

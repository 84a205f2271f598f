"""The ingest's per-facility freshness metrics (EMF), which the freshness alarms watch."""

from __future__ import annotations

import json

from tests.lambdas.ingest.samples import (
    PROC_HEADER,
    ROBOT_HEADER,
    csv_file,
    ndjson,
    procedure,
    robot,
    telemetry,
)


def _freshness(out: str) -> dict[tuple[str, str], float]:
    """(metric, facility) -> value of every per-facility EMF record printed."""
    found: dict[tuple[str, str], float] = {}
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        record = json.loads(line)
        for definition in record["_aws"]["CloudWatchMetrics"]:
            if ["facility_id", "service"] not in [sorted(d) for d in definition["Dimensions"]]:
                continue
            assert record["service"] == "ingest" and definition["Namespace"] == "SurgicalLake"
            for metric in definition["Metrics"]:
                value = record[metric["Name"]]
                found[(metric["Name"], record["facility_id"])] = value[0] if isinstance(value, list) else value
    return found


def test_rows_loaded_are_counted_per_facility(lake, capsys) -> None:
    # GIVEN robot 1 at FAC-001 and robot 2 at FAC-002, two procedures (FAC-001) and telemetry:
    # two samples from robot 1, one from robot 2
    lake.put("surgical_robots/robots.csv", csv_file(ROBOT_HEADER, [robot(1), robot(2, facility="FAC-002")]))
    lake.put("surgical_procedures/procs.csv", csv_file(PROC_HEADER, [procedure(1), procedure(2)]))
    lake.put("procedure_telemetry/2025-03-03.ndjson", ndjson([telemetry(1), telemetry(2), telemetry(3, robot_n=2)]))
    capsys.readouterr()
    # WHEN the handler processes the notifications
    event = lake.drain_queue()
    assert lake.invoke(event) == {"batchItemFailures": []}
    # THEN each facility's metric says what it sent; robots (not a freshness entity) emit none
    assert _freshness(capsys.readouterr().out) == {
        ("ProceduresLoaded", "FAC-001"): 2.0,
        ("TelemetrySamplesLoaded", "FAC-001"): 2.0,
        ("TelemetrySamplesLoaded", "FAC-002"): 1.0,
    }
    # WHEN the same notifications are delivered again (replays are skipped) THEN nothing is counted
    assert lake.invoke(event) == {"batchItemFailures": []}
    assert _freshness(capsys.readouterr().out) == {}

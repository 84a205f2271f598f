"""`lake alerts`: what local mode raised, filtered, in each format."""

from __future__ import annotations

import json

from local.analytics.alerting import append_alerts, read_alerts
from local.commands import cmd_alerts
from local.workdir import Workdir


def _alert(robot: str, facility: str, kind: str, z: float) -> dict:
    return {"schema_version": 1, "alert_id": f"id-{robot}-{kind}", "kind": kind, "robot_id": robot,
            "facility_id": facility, "metric": "motor_temp_c_avg" if kind == "anomaly_episode" else kind,
            "first_hour": "2025-03-04T10:00:00Z", "last_hour": "2025-03-04T12:00:00Z", "anomalous_hours": 3,
            "peak_z": z, "detected_at": "2025-03-04T13:16:02Z"}


def test_lists_filters_and_formats(tmp_path, capsys) -> None:
    # GIVEN a workdir with no alerts WHEN listed THEN it says so
    workdir = Workdir.at(tmp_path / "w")
    assert cmd_alerts(workdir, "table") == 0
    assert "no alerts in" in capsys.readouterr().out
    # GIVEN three alerts appended over two runs
    alerts = [_alert("ROBOT-0001", "FAC-001", "anomaly_episode", 4.2),
              _alert("ROBOT-0002", "FAC-002", "anomaly_episode", -3.5)]
    append_alerts(workdir, alerts)
    append_alerts(workdir, [_alert("ROBOT-0001", "FAC-001", "failure_precursor", 2.6)])
    assert [a["alert_id"] for a in read_alerts(workdir)] == [
        "id-ROBOT-0001-anomaly_episode", "id-ROBOT-0002-anomaly_episode", "id-ROBOT-0001-failure_precursor"]
    # WHEN filtered by facility, as JSON THEN the whole events of that facility, oldest first
    cmd_alerts(workdir, "json", facility="FAC-001")
    assert [a["kind"] for a in json.loads(capsys.readouterr().out)] == ["anomaly_episode", "failure_precursor"]
    # WHEN filtered by kind, as CSV THEN a header and one row
    cmd_alerts(workdir, "csv", kind="failure_precursor")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("detected_at,kind,facility_id,robot_id") and len(lines) == 2
    # WHEN nothing matches THEN it says so
    cmd_alerts(workdir, "table", facility="FAC-009")
    assert "matching the filters" in capsys.readouterr().out

"""The dashboard's panels (`/v1/panels/{name}`) on PostgreSQL + DuckDB against tests/api/fixture.py.

Expected values are worked out by hand from the fixture's docstring:
- performed procedures: P1 (R1, 02-03 08:00, 2 h, success), P2 (R1, 02-10 09:00, 1 h, failure with a
  minor complication), P4 (R3, FAC-002, 02-05 08:00, 3 h, success); P3 (R2) was cancelled;
- robot-days with a procedure: R1 02-03 (2 h), R1 02-10 (1 h), R3 02-05 (3 h);
- anomalies: R1 02-03 09:00, R3 02-05 08:00; robots in maintenance: R2 (FAC-001).
"""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import TokenFactory, auth

OWN, OTHER, ADMIN = "facility:FAC-001", "facility:FAC-002", "admin"


def _rows(api: TestClient, token: str, name: str, **params: object) -> list[dict]:
    response = api.get(f"/v1/panels/{name}", headers=auth(token), params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    return body["data"]


def test_kpis_for_every_facility_one_facility_a_range_and_a_robot(api: TestClient, tokens: TokenFactory) -> None:
    admin, own = tokens(ADMIN), tokens(OWN)
    # admin, everything: 3 performed, 2 of 3 successful, 1 of 3 complicated, 6 h over 3 robot-days
    (k,) = _rows(api, admin, "kpis")
    assert (k["procedures"], k["outcomes"], k["robots"], k["robots_in_maintenance"], k["anomalies"]) == (3, 3, 3, 1, 2)
    assert k["success_rate"] == pytest.approx(2 / 3) and k["complication_rate"] == pytest.approx(1 / 3)
    assert k["utilization"] == pytest.approx(6 / 72)
    # FAC-001 (its own token, or the admin narrowing): P1 + P2, 3 h over 2 robot-days, R1's anomaly
    for token, params in ((own, {}), (admin, {"facility_id": "FAC-001"})):
        (k,) = _rows(api, token, "kpis", **params)
        assert (k["procedures"], k["robots"], k["robots_in_maintenance"], k["anomalies"]) == (2, 2, 1, 1)
        assert (k["success_rate"], k["complication_rate"]) == (0.5, 0.5)
        assert k["utilization"] == pytest.approx(3 / 48)
    # FAC-001 from 02-05 to 02-11: P2 only (failed, complicated), 1 h on one robot-day, no anomaly
    (k,) = _rows(api, own, "kpis", **{"from": "2025-02-05", "to": "2025-02-11"})
    assert (k["procedures"], k["success_rate"], k["complication_rate"], k["anomalies"]) == (1, 0.0, 1.0, 0)
    assert k["utilization"] == pytest.approx(1 / 24)
    # one robot: R1
    (k,) = _rows(api, admin, "kpis", robot_id="ROBOT-0001")
    assert (k["procedures"], k["robots"], k["robots_in_maintenance"], k["anomalies"]) == (2, 1, 0, 1)
    # a facility the token does not grant: nothing (never another facility's numbers)
    (k,) = _rows(api, own, "kpis", facility_id="FAC-002")
    assert (k["procedures"], k["robots"], k["anomalies"], k["success_rate"]) == (0, 0, 0, None)


def test_series_panels(api: TestClient, tokens: TokenFactory) -> None:
    admin = tokens(ADMIN)
    # weeks (Monday): 02-03 holds P1, P3 (cancelled) and P4; 02-10 holds P2
    weeks = _rows(api, admin, "procedures_weekly")
    assert [(w["week_start"], w["procedures"], w["cancelled"], w["emergencies"]) for w in weeks] == [
        ("2025-02-03", 2, 1, 0), ("2025-02-10", 1, 0, 0)]
    (month,) = _rows(api, admin, "outcomes_monthly")
    assert (month["month_start"], month["outcomes"]) == ("2025-02-01", 3)
    assert month["success_rate"] == pytest.approx(2 / 3) and month["readmission_rate"] == 0.0
    days = _rows(api, admin, "utilization_daily", **{"from": "2025-02-04"})
    assert [(d["day"], d["robots"], d["operating_hours"]) for d in days] == [("2025-02-05", 1, 3.0),
                                                                             ("2025-02-10", 1, 1.0)]
    assert [d["utilization"] for d in days] == pytest.approx([3 / 24, 1 / 24])
    assert [d["day"] for d in _rows(api, tokens(OTHER), "utilization_daily")] == ["2025-02-05"]


def test_adherence_as_of_the_latest_day_in_scope(api: TestClient, tokens: TokenFactory) -> None:
    # admin: the latest activity is P2's end (02-10 10:00), so as_of = 02-11 00:00. R1: silent 14 h,
    # 3 h in 30 days (3/720 < 5 %); R2 never seen (silent); R3 last active 02-05 11:00 (133 h)
    rows = _rows(api, tokens(ADMIN), "adherence")
    assert [(r["robot_id"], r["silent"], r["under_utilized"]) for r in rows] == [
        ("ROBOT-0001", False, True), ("ROBOT-0002", True, True), ("ROBOT-0003", True, True)]
    assert {r["as_of"] for r in rows} == {"2025-02-11T00:00:00+00:00"}
    assert [r["hours_silent"] for r in rows] == [14.0, None, 133.0]
    assert rows[0]["utilization"] == pytest.approx(3 / 720)
    # a lower threshold: R1 is no longer under-utilized nor silent, so it leaves the list
    assert [r["robot_id"] for r in _rows(api, tokens(ADMIN), "adherence", threshold=0.004)] == ["ROBOT-0002",
                                                                                                "ROBOT-0003"]
    # FAC-002 only: its own latest day (as_of 02-06), R3 silent 13 h: not silent, but under-utilized
    (r3,) = _rows(api, tokens(OTHER), "adherence")
    assert (r3["robot_id"], r3["as_of"], r3["hours_silent"], r3["silent"]) == ("ROBOT-0003", "2025-02-06T00:00:00+00:00",
                                                                               13.0, False)


def test_ingest_panels_for_admins(api: TestClient, tokens: TokenFactory) -> None:
    admin = tokens(ADMIN)
    assert _rows(api, admin, "reconciliation") == [
        {"entity": "surgical_procedures", "objects": 1, "rows_in": 5, "loaded_on_arrival": 4,
         "loaded_after_parent": 0, "still_parked": 0, "rejected": 1},
        {"entity": "surgical_robots", "objects": 1, "rows_in": 3, "loaded_on_arrival": 3,
         "loaded_after_parent": 0, "still_parked": 0, "rejected": 0}]
    assert _rows(api, admin, "ledger_status") == [{"status": "loaded", "objects": 1, "rows_in": 3},
                                                  {"status": "partial", "objects": 1, "rows_in": 5}]
    assert _rows(api, admin, "rejects") == [{"entity": "surgical_procedures", "reason": "rows rejected in partial",
                                             "objects": 1, "rows_rejected": 1}]


def test_csv_and_bad_filters(api: TestClient, tokens: TokenFactory) -> None:
    response = api.get("/v1/panels/procedures_weekly", headers=auth(tokens(OWN)), params={"format": "csv"})
    assert list(csv.DictReader(io.StringIO(response.text))) == [
        {"week_start": "2025-02-03", "procedures": "1", "cancelled": "1", "emergencies": "0"},
        {"week_start": "2025-02-10", "procedures": "1", "cancelled": "0", "emergencies": "0"}]
    for path, params in (("kpis", {"threshold": 0.1}), ("adherence", {"robot_id": "ROBOT-0001"}),
                         ("kpis", {"robot_id": "%"}), ("adherence", {"threshold": 2})):
        response = api.get(f"/v1/panels/{path}", headers=auth(tokens(OWN)), params=params)
        assert response.status_code == 400, (path, params)
    assert api.get("/v1/panels/nope", headers=auth(tokens(OWN))).status_code == 404

"""Every endpoint in-process against PostgreSQL + DuckDB, expected rows worked out from the fixture."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import TokenFactory, auth
from tests.api.fixture import P1, P2, P3, P4, PATIENT, R1, R2, R3

FAC1, FAC2, ADMIN, PHI = "facility:FAC-001", "facility:FAC-002", "admin", "phi:pseudonymized"


def get(api: TestClient, token: str, path: str, **params: object) -> dict:
    response = api.get(path, headers=auth(token), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict, key: str) -> list[str]:
    return [row[key] for row in body["data"]]


def test_health_needs_no_token_and_names_each_engine(api: TestClient) -> None:
    body = api.get("/v1/health").json()
    assert body["status"] == "ok"
    assert {k: (v["engine"], v["up"]) for k, v in body["engines"].items()} == {
        "transactional": ("postgresql", True), "analytics": ("duckdb", True)}


def test_robots_are_the_tokens_facilities_only(api: TestClient, tokens: TokenFactory) -> None:
    assert ids(get(api, tokens(FAC1), "/v1/robots"), "robot_id") == [R1, R2]
    assert ids(get(api, tokens(FAC2), "/v1/robots"), "robot_id") == [R3]
    assert ids(get(api, tokens(ADMIN), "/v1/robots"), "robot_id") == [R1, R2, R3]
    # filters: status, model; facility_id narrows (and cannot widen) the scope
    assert ids(get(api, tokens(ADMIN), "/v1/robots", model="M1"), "robot_id") == [R1, R3]
    assert ids(get(api, tokens(FAC1), "/v1/robots", status="maintenance"), "robot_id") == [R2]
    assert ids(get(api, tokens(ADMIN), "/v1/robots", facility_id="FAC-002"), "robot_id") == [R3]
    assert ids(get(api, tokens(FAC1), "/v1/robots", facility_id="FAC-002"), "robot_id") == []
    robot = get(api, tokens(FAC1), f"/v1/robots/{R2}")
    assert (robot["facility_id"], robot["status"], robot["install_date"]) == ("FAC-001", "maintenance", "2023-01-01")
    assert "src_key" not in robot  # lineage stays inside


def test_pages_follow_the_cursor_to_the_end(api: TestClient, tokens: TokenFactory) -> None:
    token = tokens(ADMIN)
    first = get(api, token, "/v1/robots", limit=2)
    assert ids(first, "robot_id") == [R1, R2] and first["next_cursor"]
    second = get(api, token, "/v1/robots", limit=2, cursor=first["next_cursor"])
    assert ids(second, "robot_id") == [R3] and second["next_cursor"] is None
    # a cursor is bound to its query: reusing it with other filters is refused
    other = api.get("/v1/robots", headers=auth(token), params={"limit": 2, "model": "M1", "cursor": first["next_cursor"]})
    assert other.status_code == 400 and other.json()["type"] == "urn:surgical-lake:problem:invalid-cursor"
    # procedures page on (scheduled_start, procedure_id)
    page1 = get(api, token, "/v1/procedures", limit=3)
    page2 = get(api, token, "/v1/procedures", limit=3, cursor=page1["next_cursor"])
    assert ids(page1, "procedure_id") + ids(page2, "procedure_id") == [P1, P3, P4, P2]


def test_procedures_filters_and_patient_fields(api: TestClient, tokens: TokenFactory) -> None:
    # FAC-001 by scheduled start: P1 (02-03), P3 (02-04), P2 (02-10)
    body = get(api, tokens(FAC1), "/v1/procedures")
    assert ids(body, "procedure_id") == [P1, P3, P2]
    assert not {"patient_key", "patient_zip3", "patient_age_at_procedure", "patient_age_90_plus"} & set(body["data"][0])
    assert ids(get(api, tokens(FAC1), "/v1/procedures", category="urology"), "procedure_id") == [P1, P3]
    assert ids(get(api, tokens(ADMIN), "/v1/procedures", robot_id=R3), "procedure_id") == [P4]
    # [from, to): P2 starts 2025-02-10 09:00, after `to` = 2025-02-10 00:00
    assert ids(get(api, tokens(FAC1), "/v1/procedures", **{"from": "2025-02-04", "to": "2025-02-10"}),
               "procedure_id") == [P3]
    assert ids(get(api, tokens(FAC1), "/v1/procedures", **{"from": "2025-02-10T09:00:00Z"}), "procedure_id") == [P2]
    with_phi = get(api, tokens(FAC1, PHI), "/v1/procedures")["data"][0]
    assert (with_phi["patient_key"], with_phi["patient_zip3"], with_phi["patient_age_at_procedure"]) == (
        PATIENT["A"], "100", 64)


def test_one_procedure_carries_its_outcome(api: TestClient, tokens: TokenFactory) -> None:
    body = get(api, tokens(FAC1), f"/v1/procedures/{P2}")
    assert body["outcome"]["success"] is False and body["outcome"]["complication_severity"] == "minor"
    assert body["actual_start"] == "2025-02-10T09:00:00+00:00" and body["actual_end"] == "2025-02-10T10:00:00+00:00"
    assert get(api, tokens(FAC1), f"/v1/procedures/{P3}")["outcome"] is None  # cancelled: no outcome
    assert "patient_key" not in body and get(api, tokens(FAC1, PHI), f"/v1/procedures/{P2}")["patient_key"] == PATIENT["B"]


def test_robot_drill_downs(api: TestClient, tokens: TokenFactory) -> None:
    token = tokens(FAC1)
    maint = get(api, token, f"/v1/robots/{R1}/maintenance")["data"]
    assert [(m["maintenance_id"], m["downtime_hours"]) for m in maint] == [("MAINT-000001", 4.0)]
    hourly = get(api, token, f"/v1/robots/{R1}/telemetry/hourly")["data"]
    assert [(h["hour"][11:16], h["arm_id"], h["motor_temp_c_avg"]) for h in hourly] == [
        ("08:00", 1, 40.0), ("08:00", 2, 41.0), ("09:00", 1, 42.0), ("09:00", 2, 43.0)]
    assert [h["motor_temp_c_avg"] for h in get(api, token, f"/v1/robots/{R1}/telemetry/hourly", arm_id=2)["data"]] == [
        41.0, 43.0]
    assert len(get(api, token, f"/v1/robots/{R1}/telemetry/hourly", **{"from": "2025-02-03T09:00:00Z"})["data"]) == 2
    assert get(api, token, f"/v1/robots/{R1}/telemetry/hourly", **{"from": "2025-02-04"})["data"] == []
    anomalies = get(api, token, f"/v1/robots/{R1}/anomalies")["data"]
    assert [(a["metric"], a["z_score"]) for a in anomalies] == [("motor_temp_c_avg", 5.0)]


def test_views_are_computed_over_the_tokens_facilities(api: TestClient, tokens: TokenFactory) -> None:
    # utilization: FAC-001 has R1's 2 h on 02-03 and 1 h on 02-10 (P3 was cancelled); FAC-002 R3's 3 h
    util = get(api, tokens(FAC1), "/v1/views/v_robot_utilization_daily")["data"]
    assert [(r["robot_id"], r["day"], r["operating_hours"]) for r in util] == [
        (R1, "2025-02-03", 2.0), (R1, "2025-02-10", 1.0)]
    assert util[0]["utilization"] == pytest.approx(2 / 24)
    # outcome trend has no facility column: FAC-001's urology month holds P1 only (P4 is FAC-002's)
    trend = {r["procedure_type"]: r for r in get(api, tokens(FAC1), "/v1/views/v_outcome_trend_monthly")["data"]}
    assert {k: (v["outcomes"], v["success_rate"]) for k, v in trend.items()} == {
        "gynecology-type": (1, 0.0), "urology-type": (1, 1.0)}
    everyone = {r["procedure_type"]: r["outcomes"] for r in get(api, tokens(ADMIN), "/v1/views/v_outcome_trend_monthly")["data"]}
    assert everyone == {"gynecology-type": 1, "urology-type": 2}
    assert {r["procedure_type"]: r["outcomes"] for r in get(api, tokens(ADMIN), "/v1/views/v_outcome_trend_monthly",
                                                            facility_id="FAC-002")["data"]} == {"urology-type": 1}
    # filters the view's columns allow: robot_id, date range on `day`
    assert [r["day"] for r in get(api, tokens(ADMIN), "/v1/views/v_robot_utilization_daily", robot_id=R1,
                                  **{"from": "2025-02-04"})["data"]] == ["2025-02-10"]
    bad = api.get("/v1/views/v_outcome_trend_monthly", headers=auth(tokens(ADMIN)), params={"robot_id": R1})
    assert bad.status_code == 400
    # a view that reads "now" (analytics.as_of, no facility's rows) is confined like the others
    assert {r["robot_id"] for r in get(api, tokens(FAC1), "/v1/views/v_robot_reliability")["data"]} == {R1, R2}
    listed = {v["name"]: v for v in get_list(api, tokens(FAC1), "/v1/views")}
    assert len(listed) == 14 and "as_of" not in listed and listed["v_procedure_volume_weekly"]["date_column"] == "week_start"


def get_list(api: TestClient, token: str, path: str) -> list:
    response = api.get(path, headers=auth(token))
    assert response.status_code == 200
    return list(response.json())


def test_view_pages_by_offset(api: TestClient, tokens: TokenFactory) -> None:
    token = tokens(ADMIN)
    first = get(api, token, "/v1/views/v_robot_utilization_daily", limit=2)
    rest = get(api, token, "/v1/views/v_robot_utilization_daily", limit=2, cursor=first["next_cursor"])
    assert [r["day"] for r in first["data"] + rest["data"]] == ["2025-02-03", "2025-02-10", "2025-02-05"]
    assert rest["next_cursor"] is None


def test_ledger_is_admin_only(api: TestClient, tokens: TokenFactory) -> None:
    body = get(api, tokens(ADMIN), "/v1/ingest/objects")
    assert [(r["object_key"], r["status"]) for r in body["data"]] == [
        ("surgical_procedures/b.csv", "partial"), ("surgical_robots/a.csv", "loaded")]
    assert ids(get(api, tokens(ADMIN), "/v1/ingest/objects", status="loaded"), "object_key") == ["surgical_robots/a.csv"]
    assert ids(get(api, tokens(ADMIN), "/v1/ingest/objects", since="2025-01-15"), "object_key") == [
        "surgical_procedures/b.csv"]
    denied = api.get("/v1/ingest/objects", headers=auth(tokens(FAC1, PHI)))
    assert denied.status_code == 403 and denied.headers["content-type"] == "application/problem+json"
    # the reconciliation view reads the ledger too: admins only
    assert api.get("/v1/views/v_ingest_reconciliation", headers=auth(tokens(FAC1))).status_code == 403
    assert get(api, tokens(ADMIN), "/v1/views/v_ingest_reconciliation")["data"]


def test_csv_is_the_same_rows(api: TestClient, tokens: TokenFactory) -> None:
    token = tokens(FAC1)
    by_header = api.get("/v1/robots", headers={**auth(token), "Accept": "text/csv"})
    by_param = api.get("/v1/robots", headers=auth(token), params={"format": "csv"})
    assert by_header.headers["content-type"].startswith("text/csv") and by_header.text == by_param.text
    rows = list(csv.DictReader(io.StringIO(by_header.text)))
    assert [r["robot_id"] for r in rows] == [R1, R2] and rows[1]["status"] == "maintenance"
    paged = api.get("/v1/robots", headers={**auth(token), "Accept": "text/csv"}, params={"limit": 1})
    assert paged.headers["x-next-cursor"] and paged.text.count("\r\n") == 2  # header + one row
    view = api.get("/v1/views/v_robot_utilization_daily", headers=auth(token), params={"format": "csv"})
    assert list(csv.reader(io.StringIO(view.text)))[0][:3] == ["robot_id", "facility_id", "day"]


def test_docs_and_spec_are_served_without_a_cdn(api: TestClient) -> None:
    page = api.get("/v1/docs").text
    assert "http://" not in page and "https://" not in page
    for asset in ("swagger-ui-bundle.min.js", "swagger-ui.min.css"):
        response = api.get(f"/v1/docs/{asset}")
        assert response.status_code == 200 and len(response.content) > 10_000
    spec = api.get("/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/v1/views/{view}" in spec["paths"]
    assert api.get("/v1/docs/../openapi.json").status_code in (200, 404)  # never a file outside the allowlist
    assert api.get("/v1/docs/anything.js").status_code == 404

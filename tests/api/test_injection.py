"""SQL injection through every filter, path parameter and the cursor: each value reaches SQL as a
bound parameter (or is refused by validation), so no payload widens the scope or changes data."""

from __future__ import annotations

import base64
import json

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import TokenFactory, auth
from tests.api.fixture import PROCEDURES, R1, ROBOTS

PAYLOADS = [
    "' OR '1'='1", "FAC-001' OR 1=1 --", "x'); DROP TABLE surgical_robots; --", "1 OR 1=1",
    "FAC-002') OR ('1'='1", "' UNION SELECT robot_id, serial_number FROM surgical_robots --",
    "$scope_0", ":scope_0", "%(scope_0)s", "\\'; SELECT pg_sleep(5); --", "ROBOT-0003' --",
]
# (path, parameter) for every filter a client controls
FILTERS = [
    ("/v1/robots", "status"), ("/v1/robots", "model"), ("/v1/robots", "facility_id"),
    ("/v1/procedures", "category"), ("/v1/procedures", "robot_id"), ("/v1/procedures", "facility_id"),
    ("/v1/procedures", "from"), ("/v1/procedures", "to"),
    (f"/v1/robots/{R1}/telemetry/hourly", "from"), (f"/v1/robots/{R1}/telemetry/hourly", "arm_id"),
    (f"/v1/robots/{R1}/anomalies", "to"),
    ("/v1/views/v_robot_utilization_daily", "robot_id"), ("/v1/views/v_robot_utilization_daily", "facility_id"),
    ("/v1/views/v_procedure_volume_weekly", "from"),
    ("/v1/panels/kpis", "robot_id"), ("/v1/panels/kpis", "from"), ("/v1/panels/utilization_daily", "facility_id"),
    ("/v1/panels/adherence", "threshold"), ("/v1/panels/adherence", "days"),
    ("/v1/ingest/objects", "status"), ("/v1/ingest/objects", "since"),
    ("/v1/robots", "limit"), ("/v1/robots", "format"), ("/v1/robots", "cursor"),
]


def _counts(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                     for t in ("surgical_robots", "surgical_procedures", "etl.ingest_ledger"))


@pytest.mark.parametrize(("path", "param"), FILTERS)
def test_payloads_in_filters_find_nothing_and_change_nothing(api: TestClient, tokens: TokenFactory, lake_db: str,
                                                             path: str, param: str) -> None:
    token = tokens("facility:FAC-001", "admin") if "ingest" in path else tokens("facility:FAC-001")
    for payload in PAYLOADS:
        response = api.get(path, headers=auth(token), params={param: payload})
        # THEN refused by validation, or answered with no row at all (no payload matches a value)
        assert response.status_code in (200, 400), (payload, response.text)
        if response.status_code == 200:
            assert response.json()["data"] == [], (param, payload)
        else:
            assert response.headers["content-type"] == "application/problem+json"
    assert _counts(lake_db) == (len(ROBOTS), len(PROCEDURES), 2)


@pytest.mark.parametrize("path", [f"/v1/robots/{p}" for p in ("ROBOT-0001' OR '1'='1", "ROBOT-0003%27--")] +
                         ["/v1/procedures/PROC-000001' OR 1=1 --", "/v1/views/v_robot_reliability; DROP TABLE x"])
def test_payloads_in_path_parameters(api: TestClient, tokens: TokenFactory, path: str) -> None:
    response = api.get(path, headers=auth(tokens("facility:FAC-002")))
    assert response.status_code in (400, 404)


def test_a_forged_cursor_is_still_a_bound_parameter(api: TestClient, tokens: TokenFactory, lake_db: str) -> None:
    token = tokens("facility:FAC-001")
    first = api.get("/v1/procedures", headers=auth(token), params={"limit": 1}).json()
    body = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    for after in (["2025-01-01T00:00:00+00:00' OR 1=1 --", "x"], ["1970-01-01T00:00:00+00:00", "' OR '1'='1"]):
        forged = base64.urlsafe_b64encode(json.dumps({**body, "k": after}).encode()).decode().rstrip("=")
        response = api.get("/v1/procedures", headers=auth(token), params={"limit": 1, "cursor": forged})
        assert response.status_code in (200, 400)
        if response.status_code == 200:  # a real timestamp: the page after it, still FAC-001 only
            assert all(r["facility_id"] == "FAC-001" for r in response.json()["data"])
    assert _counts(lake_db) == (len(ROBOTS), len(PROCEDURES), 2)

"""The authorization matrix: every endpoint x {no token, expired, forged, other facility, own
facility, admin}, plus Cognito claims as API Gateway passes them."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from api.auth import cognito_claims
from api.principal import Principal
from api.tokens import issue
from tests.api.conftest import TokenFactory, auth
from tests.api.fixture import P1, R1

OWN, OTHER, ADMIN = "facility:FAC-001", "facility:FAC-002", "admin"
# endpoint -> what the FAC-001 objects look like in it (all of them exist and belong to FAC-001)
ITEM_ENDPOINTS = [f"/v1/robots/{R1}", f"/v1/robots/{R1}/maintenance", f"/v1/robots/{R1}/telemetry/hourly",
                  f"/v1/robots/{R1}/anomalies", f"/v1/procedures/{P1}"]
LIST_ENDPOINTS = ["/v1/robots", "/v1/procedures", "/v1/views/v_robot_utilization_daily",
                  "/v1/views/v_outcome_trend_monthly", "/v1/views", "/v1/panels/adherence",
                  "/v1/panels/adherence?format=csv"]  # the other panels' numbers per token: test_panels.py
ADMIN_ENDPOINTS = ["/v1/ingest/objects", "/v1/views/v_ingest_reconciliation", "/v1/panels/reconciliation",
                   "/v1/panels/ledger_status", "/v1/panels/rejects"]
ALL = ITEM_ENDPOINTS + LIST_ENDPOINTS + ADMIN_ENDPOINTS


def _problem(response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:surgical-lake:problem:{slug}"


@pytest.mark.parametrize("path", ALL)
def test_no_expired_or_forged_token_gets_in(api: TestClient, key: bytes, path: str) -> None:
    who = Principal.from_groups("mallory", [ADMIN])
    expired = issue(key, who, hours=1, now=1_000_000_000)
    forged = issue(secrets.token_bytes(32), who)  # signed with another key
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + forged.split(".")[1] + "."  # alg "none"
    for headers in ({}, {"Authorization": "Basic abc"}, auth(expired), auth(forged), auth(unsigned), auth("garbage")):
        response = api.get(path, headers=headers)
        _problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert "expired" in api.get(path, headers=auth(expired)).json()["detail"]


@pytest.mark.parametrize("path", ITEM_ENDPOINTS)
def test_another_facilitys_object_is_not_found(api: TestClient, tokens: TokenFactory, path: str) -> None:
    _problem(api.get(path, headers=auth(tokens(OTHER))), 404, "not-found")
    _problem(api.get(path, headers=auth(tokens())), 404, "not-found")  # a token granting no facility
    assert api.get(path, headers=auth(tokens(OWN))).status_code == 200
    assert api.get(path, headers=auth(tokens(ADMIN))).status_code == 200


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_lists_hold_only_the_tokens_facilities(api: TestClient, tokens: TokenFactory, path: str) -> None:
    def text(groups: tuple[str, ...]) -> str:
        response = api.get(path, headers=auth(tokens(*groups)))
        assert response.status_code == 200, response.text
        return response.text

    # FAC-001's ids (R1, R2, P1-P3) never reach a FAC-002 token, and vice versa
    assert not any(i in text((OTHER,)) for i in ("ROBOT-0001", "ROBOT-0002", "PROC-000001", "FAC-001"))
    assert not any(i in text((OWN,)) for i in ("ROBOT-0003", "PROC-000004", "FAC-002"))
    if path != "/v1/views":
        assert "ROBOT-0003" in text((ADMIN,)) or "urology" in text((ADMIN,))


@pytest.mark.parametrize("path", ADMIN_ENDPOINTS)
def test_admin_endpoints(api: TestClient, tokens: TokenFactory, path: str) -> None:
    for groups in ((OWN,), (OTHER,), (OWN, "phi:pseudonymized")):
        _problem(api.get(path, headers=auth(tokens(*groups))), 403, "forbidden")
    assert api.get(path, headers=auth(tokens(ADMIN))).json()["data"]


def test_health_and_the_spec_need_no_token(api: TestClient) -> None:
    for path in ("/v1/health", "/v1/openapi.json", "/v1/docs"):
        assert api.get(path).status_code == 200


class _Request:
    def __init__(self, event: dict) -> None:
        self.scope = {"aws.event": event}


@pytest.mark.parametrize(("groups", "facilities", "admin", "phi"), [
    ("facility:FAC-003", {"FAC-003"}, False, False),  # one group: a plain string
    ("facility:FAC-003,facility:FAC-007,phi:pseudonymized", {"FAC-003", "FAC-007"}, False, True),
    ("[admin facility:FAC-001]", {"FAC-001"}, True, False),  # the bracketed form of list claims
    (["facility:FAC-002", "facility:BAD", "facility:FAC-2"], {"FAC-002"}, False, False),  # malformed ids grant nothing
    (None, set(), False, False),
])
def test_cognito_claims_become_the_same_principal(groups, facilities: set[str], admin: bool, phi: bool) -> None:
    # GIVEN the REST API event API Gateway's Cognito authorizer hands the function
    event = {"requestContext": {"authorizer": {"claims": {"sub": "u-1", "cognito:groups": groups}}}}
    # WHEN the function reads it THEN the principal has exactly those rights
    who = cognito_claims(_Request(event))  # type: ignore[arg-type]
    assert (who.subject, set(who.facilities), who.admin, who.phi) == ("u-1", facilities, admin, phi)


def test_a_request_without_authorizer_claims_is_refused() -> None:
    from api.problems import Problem

    with pytest.raises(Problem) as raised:
        cognito_claims(_Request({"requestContext": {}}))  # type: ignore[arg-type]
    assert raised.value.kind.status == 401

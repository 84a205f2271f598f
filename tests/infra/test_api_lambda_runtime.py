"""The API function from its synthesized bundle under CPython 3.12, the way Lambda runs it
(tests/infra/lambda_runtime.py): API Gateway REST events with Cognito claims in, JSON out, rows
from a real PostgreSQL as `lake_api`. What differs from AWS: DATABASE_URL instead of the secret
and TLS (the local server has no TLS), and the Redshift endpoint pointed at a closed port (no
warehouse here), so health reports the analytics engine down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.api import API_HANDLER
from lake.db_roles import API
from lambdas.migrate.roles import role_url
from local.stack.postgres_server import free_port
from tests.api import fixture
from tests.infra.lambda_runtime import MISSING_PYTHON, find_lambda_python, run_in_runtime, runtime_sdk
from tests.infra.test_lambda_runtime import _python_functions

INVOKE = """
import importlib, json, os
module_name, function_name = os.environ["HANDLER"].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)

class Context:
    function_name = "surgical-lake-dev-api"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:surgical-lake-dev-api"
    aws_request_id = "api-asset-test"
    def get_remaining_time_in_millis(self):
        return 29_000

out = [handler(event, Context()) for event in json.load(open(os.environ["EVENTS_FILE"]))]
import fastapi, psycopg, boto3
json.dump({"responses": out, "modules": [fastapi.__file__, psycopg.__file__, boto3.__file__],
           "psycopg_impl": psycopg.pq.__impl__}, open(RESULT_FILE, "w"))
"""


def rest_event(path: str, groups: str | None = None, query: dict[str, str] | None = None) -> dict:
    """The REST API proxy event API Gateway sends (requestContext.authorizer.claims from Cognito)."""
    authorizer = {"claims": {"sub": "user-1", "cognito:groups": groups}} if groups is not None else None
    return {
        "resource": "/v1/{proxy+}", "path": path, "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "api.example"},
        "multiValueHeaders": {"Accept": ["application/json"], "Host": ["api.example"]},
        "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()}
        or None, "pathParameters": {"proxy": path.removeprefix("/v1/")}, "stageVariables": None,
        "requestContext": {"resourcePath": "/v1/{proxy+}", "httpMethod": "GET", "path": f"/dev{path}", "stage": "dev",
                           "requestId": "r-1", "identity": {"sourceIp": "198.51.100.7"}, "authorizer": authorizer},
        "body": None, "isBase64Encoded": False,
    }


def test_the_api_handler_from_its_asset_answers_api_gateway_events(dev, migrated_db: str,
                                                                   role_passwords: dict[str, str],
                                                                   tmp_path: Path) -> None:
    python = find_lambda_python()
    if python is None:
        pytest.fail(MISSING_PYTHON)
    props, asset = _python_functions(dev)[API_HANDLER]
    fixture.load_database(migrated_db)
    events = [rest_event("/v1/robots", "facility:FAC-002"),
              rest_event("/v1/robots/ROBOT-0001", "facility:FAC-002"),
              rest_event("/v1/procedures", "facility:FAC-001,phi:pseudonymized", {"category": "urology"}),
              rest_event("/v1/robots"),  # no claims: a route left open by mistake still refuses
              rest_event("/v1/health")]
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(events))
    # GIVEN the template's environment, with the database as DATABASE_URL and no reachable warehouse
    env = {**{k: v for k, v in props["Environment"]["Variables"].items() if isinstance(v, str)},
           "REDSHIFT_WORKGROUP": "wg", "DATABASE_URL": role_url(migrated_db, API, role_passwords[API.name]),
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "HANDLER": props["Handler"], "EVENTS_FILE": str(events_file)}
    # WHEN the handler named in the template answers them under CPython 3.12, from the bundle alone
    got = run_in_runtime(python, asset, runtime_sdk(), INVOKE, env)
    robots, other, procedures, anonymous, health = got["responses"]
    assert all(path.startswith(str(asset)) for path in got["modules"]) and got["psycopg_impl"] == "binary"
    # THEN the claims scope every answer, as locally
    assert robots["statusCode"] == 200
    assert [r["robot_id"] for r in json.loads(robots["body"])["data"]] == [fixture.R3]
    assert other["statusCode"] == 404 and other["headers"]["content-type"] == "application/problem+json"
    rows = json.loads(procedures["body"])["data"]
    assert [(r["procedure_id"], r["patient_key"]) for r in rows] == [(fixture.P1, fixture.PATIENT["A"]),
                                                                     (fixture.P3, fixture.PATIENT["A"])]
    assert anonymous["statusCode"] == 401
    body = json.loads(health["body"])
    assert health["statusCode"] == 503 and body["status"] == "degraded"
    assert {k: (v["engine"], v["up"]) for k, v in body["engines"].items()} == {
        "transactional": ("postgresql", True), "analytics": ("redshift", False)}

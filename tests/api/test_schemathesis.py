"""The OpenAPI document against the running app: schemathesis generates requests for every
operation (seeded and bounded, so CI stays fast and deterministic) and checks each response: no
5xx, and status code, content type and body as the document says."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from api.app import ApiContext, create_app
from tests.api.conftest import TokenFactory, auth

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
EXAMPLES_PER_OPERATION = 20


def _operations(context: ApiContext) -> list:
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", create_app(context))
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def test_every_operation_answers_as_documented(context: ApiContext, tokens: TokenFactory) -> None:
    operations = _operations(context)
    # GIVEN every documented operation: health, robots (list, one, maintenance, hourly, anomalies),
    # procedures (list, one), views (list, one), the dashboard's panels, the ledger
    assert len(operations) == 12
    headers = auth(tokens("admin", "phi:pseudonymized"))  # sees every field the document describes
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            # WHEN a generated request is sent THEN its response conforms (checks raise otherwise)
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as exc:
            pytest.fail(f"{operation.label}: {exc}")

"""Turn a request into a `Principal`: Cognito claims in AWS, a local token with `lake serve`.

In AWS, API Gateway's Cognito authorizer has already verified the token (signature, expiry,
audience) and passes its claims in the request context; the function only reads them, and a
request without claims (a route left open by mistake) is refused. Locally, `lake serve` plays
the authorizer's part and verifies the workdir-signed token itself. Either way the result is
the same `Principal`, and everything after this module is the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from api.principal import Principal, parse_groups
from api.problems import UNAUTHORIZED, Problem

Authenticator = Callable[[Request], Principal]
GROUPS_CLAIM = "cognito:groups"


def cognito_claims(request: Request) -> Principal:
    """The principal API Gateway's Cognito authorizer vouched for (Mangum keeps the event)."""
    event: dict[str, Any] = request.scope.get("aws.event") or {}
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    subject = claims.get("sub")
    if not subject:
        raise Problem(UNAUTHORIZED, "no authorizer claims on this request")
    return Principal.from_groups(str(subject), parse_groups(claims.get(GROUPS_CLAIM)))


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(UNAUTHORIZED, "send Authorization: Bearer <token> (`lake token` prints one)")
    return token.strip()


def local_tokens(key: bytes) -> Authenticator:
    """Verify workdir-signed tokens (`api.tokens`)."""
    from api.tokens import TokenError, verify

    def authenticate(request: Request) -> Principal:
        try:
            return verify(key, bearer_token(request))
        except TokenError as exc:
            raise Problem(UNAUTHORIZED, str(exc)) from exc

    return authenticate

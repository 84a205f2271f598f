"""RFC 9457 problem details: every error the API returns, each with a stable `type`.

Clients branch on `type` (a URN that never changes), people read `title` and `detail`. A
detail never carries row content, a token or a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:surgical-lake:problem:"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.slug


UNAUTHORIZED = ProblemType("unauthorized", 401, "A valid bearer token is required")
FORBIDDEN = ProblemType("forbidden", 403, "The token does not grant this")
NOT_FOUND = ProblemType("not-found", 404, "No such resource")
INVALID_REQUEST = ProblemType("invalid-request", 400, "A parameter is invalid")
INVALID_CURSOR = ProblemType("invalid-cursor", 400, "The cursor is not valid for this query")
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", 405, "Method not allowed")
ENGINE_UNAVAILABLE = ProblemType("engine-unavailable", 503, "A query engine is unavailable")
INTERNAL = ProblemType("internal", 500, "Internal error")
PROBLEM_TYPES = (UNAUTHORIZED, FORBIDDEN, NOT_FOUND, INVALID_REQUEST, INVALID_CURSOR, METHOD_NOT_ALLOWED,
                 ENGINE_UNAVAILABLE, INTERNAL)


class Problem(Exception):
    """Raise anywhere in a request: rendered as application/problem+json."""

    def __init__(self, kind: ProblemType, detail: str | None = None) -> None:
        super().__init__(detail or kind.title)
        self.kind = kind
        self.detail = detail

    def body(self, instance: str) -> dict[str, object]:
        out: dict[str, object] = {"type": self.kind.uri, "title": self.kind.title, "status": self.kind.status,
                                  "instance": instance}
        if self.detail:
            out["detail"] = self.detail
        return out


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "enum": [p.uri for p in PROBLEM_TYPES]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}

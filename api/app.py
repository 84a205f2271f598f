"""The FastAPI application: routes, content negotiation, pagination, problem+json, access log.

`create_app(ApiContext(...))` is the same app in AWS (`api/lambda_handler.py`, behind API
Gateway through Mangum) and locally (`lake serve`, uvicorn); only the context differs: which
engines answer and how a request becomes a principal.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import queries as q
from api import schemas
from api.auth import Authenticator
from api.catalog import views
from api.cursor import Cursor, CursorError, decode, encode, fingerprint
from api.engines import BadValue, Engine, EngineUnavailable
from api.panels import PANELS, panel
from api.principal import Principal
from api.problems import (
    ENGINE_UNAVAILABLE,
    FORBIDDEN,
    INTERNAL,
    INVALID_CURSOR,
    INVALID_REQUEST,
    MEDIA_TYPE,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PROBLEM_SCHEMA,
    UNAUTHORIZED,
    Problem,
    ProblemType,
)
from api.render import CSV, JSON, records, to_csv, to_json
from api.scope import ScopeError
from lake.contract import FACILITY_ID, PROCEDURE_ID, ROBOT_ID

PREFIX = "/v1"
ACCESS_LOG = "lake.api.access"
SWAGGER_ASSETS = ("swagger-ui-bundle.min.js", "swagger-ui.min.css")  # shipped inside Powertools
_FACILITY = re.compile(FACILITY_ID)
log = logging.getLogger("lake.api")


@dataclass
class ApiContext:
    transactional: Engine
    analytics: Engine
    authenticate: Authenticator
    cors_origins: tuple[str, ...] = ()
    access_log: logging.Logger = field(default_factory=lambda: logging.getLogger(ACCESS_LOG))

    def engine(self, kind: str) -> Engine:
        return self.transactional if kind == q.TRANSACTIONAL else self.analytics


def _problem_response(kind: str | None = None) -> dict[str, Any]:
    return {"description": kind or "problem", "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}


ERRORS: dict[int | str, dict[str, Any]] = {code: _problem_response(text) for code, text in (
    (400, "invalid parameter or cursor"), (401, "missing, invalid or expired token"),
    (403, "the token does not grant this"), (404, "not found, or not visible to this token"),
    (503, "a query engine is unavailable"))}


def _ok(model: type, csv: bool = True) -> dict[int | str, dict[str, Any]]:
    content = {CSV: {"schema": {"type": "string"}}} if csv else {}
    return {200: {"model": model, "content": content}, **ERRORS}


# --- parameters --------------------------------------------------------------------------------
RobotId = Annotated[str, Path(pattern=f"^{ROBOT_ID}$", examples=["ROBOT-0001"])]
ProcedureId = Annotated[str, Path(pattern=f"^{PROCEDURE_ID}$", examples=["PROC-000001"])]
Limit = Annotated[int, Query(ge=1, le=q.MAX_LIMIT, description="rows per page (default 100, max 1000)")]
CursorParam = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")]
Format = Annotated[str | None, Query(pattern="^(json|csv)$", description="csv = same as Accept: text/csv")]
When = dt.datetime | dt.date
From = Annotated[When | None, Query(alias="from", description="inclusive lower bound (ISO 8601; a date is 00:00 UTC)")]
To = Annotated[When | None, Query(alias="to", description="exclusive upper bound (ISO 8601; a date is 00:00 UTC)")]
Facilities = Annotated[list[str] | None, Query(description="facility ids to narrow to (repeatable)",
                                               examples=[["FAC-003"]])]
RobotFilter = Annotated[str | None, Query(pattern=f"^{ROBOT_ID}$")]
Text = Annotated[str | None, Query(max_length=200)]


def _facilities(values: list[str] | None) -> list[str]:
    bad = [v for v in values or () if not _FACILITY.fullmatch(v)]
    if bad:
        raise Problem(INVALID_REQUEST, f"facility_id must look like FAC-003 ({len(bad)} value(s) do not)")
    return list(values or ())


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt:
        return fmt == "csv"
    return CSV in request.headers.get("accept", "")


def _respond(request: Request, body: Any, columns: list[str], items: list[dict[str, Any]], fmt: str | None,
             next_cursor: str | None = None) -> Response:
    request.state.rows = len(items)
    if _wants_csv(request, fmt):
        headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        return Response(to_csv(columns, items), media_type=CSV, headers=headers)
    return Response(to_json(body), media_type=JSON)


BEARER = HTTPBearer(auto_error=False, description="Cognito ID/access token in AWS; `lake token` locally")


def principal(request: Request, _: Annotated[Any, Depends(BEARER)] = None) -> Principal:
    """The caller, as the context's authenticator sees it (401 problem otherwise)."""
    who = request.app.state.ctx.authenticate(request)
    request.state.principal = who
    return who


Who = Annotated[Principal, Depends(principal)]
ViewName = Annotated[str, Path(json_schema_extra={"enum": sorted(views())})]
PanelName = Annotated[str, Path(json_schema_extra={"enum": sorted(PANELS)})]


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="surgical-lake API",
        version="1.0.0",
        description=("Robots, procedures, telemetry rollups, anomalies and the analytics views of the lake, "
                     "scoped to the facilities your token grants. Lists page with an opaque `cursor`; "
                     "`Accept: text/csv` or `format=csv` returns CSV; errors are RFC 9457 problem+json."),
        openapi_url=f"{PREFIX}/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.ctx = ctx
    _install_handlers(app, ctx)

    def page(request: Request, endpoint: str, filters: dict[str, Any], build: Callable[[Cursor | None], q.Statement],
             cursor: str | None, fmt: str | None) -> Response:
        fp = fingerprint(endpoint, filters)
        position = _decode(cursor, fp) if cursor else None
        statement = build(position)
        if position is not None and (len(position.after or ()) != len(statement.keys or ())):
            raise Problem(INVALID_CURSOR, "the cursor is not one this API issued")
        columns, rows = ctx.engine(statement.engine).run(statement)
        more = len(rows) > statement.limit
        items = records(columns, rows[: statement.limit])
        token = None
        if more and statement.keys:
            token = encode(Cursor(after=tuple(items[-1][k] for k in statement.keys)), fp)
        elif more:
            token = encode(Cursor(offset=(position.offset or 0 if position else 0) + statement.limit), fp)
        return _respond(request, {"data": items, "next_cursor": token}, columns, items, fmt, token)

    def one(request: Request, statement: q.Statement, fmt: str | None, what: str) -> Response:
        columns, rows = ctx.engine(statement.engine).run(statement)
        if not rows:
            raise Problem(NOT_FOUND, f"no {what} with this id is visible to this token")
        items = records(columns, rows[:1])
        return _respond(request, items[0], columns, items, fmt)

    def require_robot(who: Principal, robot_id: str) -> None:
        statement = q.robot(who, robot_id)
        if not ctx.transactional.run(statement)[1]:
            raise Problem(NOT_FOUND, "no robot with this id is visible to this token")

    @app.get(f"{PREFIX}/health", response_model=schemas.Health, tags=["meta"],
             responses={503: {"model": schemas.Health, "description": "an engine is down"}})
    def health() -> Response:
        """The API and each engine it uses, up or down (no token needed)."""
        engines = {}
        for role, engine in (("transactional", ctx.transactional), ("analytics", ctx.analytics)):
            started = time.perf_counter()
            error = None
            try:
                engine.ping()
            except EngineUnavailable as exc:
                error = str(exc)
            engines[role] = {"engine": engine.name, "up": error is None,
                             "ms": round((time.perf_counter() - started) * 1000, 1), "error": error}
        up = all(e["up"] for e in engines.values())
        return Response(to_json({"status": "ok" if up else "degraded", "engines": engines}), media_type=JSON,
                        status_code=200 if up else 503)

    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # Relative URLs: the page works under API Gateway's stage prefix (/dev/v1/docs) too.
        return get_swagger_ui_html(openapi_url="openapi.json", title="surgical-lake API",
                                   swagger_js_url=f"docs/{SWAGGER_ASSETS[0]}",
                                   swagger_css_url=f"docs/{SWAGGER_ASSETS[1]}", swagger_favicon_url="data:,")

    @app.get(PREFIX + "/docs/{asset}", include_in_schema=False)
    def docs_asset(asset: str) -> Response:
        if asset not in SWAGGER_ASSETS:
            raise Problem(NOT_FOUND)
        body = files("aws_lambda_powertools.event_handler.openapi.swagger_ui").joinpath(asset).read_bytes()
        media = "text/javascript" if asset.endswith(".js") else "text/css"
        return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400"})

    @app.get(f"{PREFIX}/robots", tags=["robots"], responses=_ok(schemas.RobotPage))
    def list_robots(request: Request, who: Who, facility_id: Facilities = None, status: Text = None,
                    model: Text = None, limit: Limit = q.DEFAULT_LIMIT, cursor: CursorParam = None,
                    format: Format = None) -> Response:
        """The fleet visible to the token, by robot_id."""
        facilities = _facilities(facility_id)
        return page(request, "robots", {"facility_id": facilities, "status": status, "model": model, "limit": limit},
                    lambda c: q.robots(who, facility_id=facilities, status=status, model=model, limit=limit, cursor=c),
                    cursor, format)

    @app.get(PREFIX + "/robots/{robot_id}", tags=["robots"], responses=_ok(schemas.Robot))
    def get_robot(request: Request, who: Who, robot_id: RobotId, format: Format = None) -> Response:
        """One robot; 404 when it does not exist or belongs to a facility the token does not grant."""
        return one(request, q.robot(who, robot_id), format, "robot")

    @app.get(PREFIX + "/robots/{robot_id}/maintenance", tags=["robots"], responses=_ok(schemas.MaintenancePage))
    def robot_maintenance(request: Request, who: Who, robot_id: RobotId, limit: Limit = q.DEFAULT_LIMIT,
                          cursor: CursorParam = None, format: Format = None) -> Response:
        """The robot's service events, oldest first."""
        require_robot(who, robot_id)
        return page(request, "maintenance", {"robot_id": robot_id, "limit": limit},
                    lambda c: q.maintenance(who, robot_id, limit=limit, cursor=c), cursor, format)

    @app.get(PREFIX + "/robots/{robot_id}/telemetry/hourly", tags=["robots"],
             responses=_ok(schemas.TelemetryHourPage))
    def robot_telemetry_hourly(request: Request, who: Who, robot_id: RobotId, start: From = None, end: To = None,
                               arm_id: Annotated[int | None, Query(ge=1, le=4)] = None,
                               limit: Limit = q.DEFAULT_LIMIT, cursor: CursorParam = None,
                               format: Format = None) -> Response:
        """The Glue job's hourly rollups for the robot, by hour and arm."""
        require_robot(who, robot_id)
        filters = {"robot_id": robot_id, "from": start, "to": end, "arm_id": arm_id, "limit": limit}
        return page(request, "telemetry_hourly", filters,
                    lambda c: q.telemetry_hourly(who, robot_id, start=start, end=end, arm_id=arm_id, limit=limit,
                                                 cursor=c), cursor, format)

    @app.get(PREFIX + "/robots/{robot_id}/anomalies", tags=["robots"], responses=_ok(schemas.AnomalyPage))
    def robot_anomalies(request: Request, who: Who, robot_id: RobotId, start: From = None, end: To = None,
                        limit: Limit = q.DEFAULT_LIMIT, cursor: CursorParam = None,
                        format: Format = None) -> Response:
        """Robot-hours flagged by the Glue job (z-score against the robot's trailing baseline)."""
        require_robot(who, robot_id)
        return page(request, "anomalies", {"robot_id": robot_id, "from": start, "to": end, "limit": limit},
                    lambda c: q.anomalies(who, robot_id, start=start, end=end, limit=limit, cursor=c), cursor, format)

    @app.get(f"{PREFIX}/procedures", tags=["procedures"], responses=_ok(schemas.ProcedurePage))
    def list_procedures(request: Request, who: Who, facility_id: Facilities = None, robot_id: RobotFilter = None,
                        category: Text = None, start: From = None, end: To = None, limit: Limit = q.DEFAULT_LIMIT,
                        cursor: CursorParam = None, format: Format = None) -> Response:
        """Procedures by scheduled start; patient-level fields only with `phi:pseudonymized`."""
        facilities = _facilities(facility_id)
        filters = {"facility_id": facilities, "robot_id": robot_id, "category": category, "from": start, "to": end,
                   "limit": limit, "phi": who.phi}
        return page(request, "procedures", filters,
                    lambda c: q.procedures(who, facility_id=facilities, robot_id=robot_id, category=category,
                                           start=start, end=end, limit=limit, cursor=c), cursor, format)

    @app.get(PREFIX + "/procedures/{procedure_id}", tags=["procedures"], responses=_ok(schemas.ProcedureDetail))
    def get_procedure(request: Request, who: Who, procedure_id: ProcedureId, format: Format = None) -> Response:
        """One procedure with its outcome (null until loaded)."""
        columns, rows = ctx.transactional.run(q.procedure(who, procedure_id))
        if not rows:
            raise Problem(NOT_FOUND, "no procedure with this id is visible to this token")
        flat = records(columns, rows[:1])[0]
        if _wants_csv(request, format):
            return _respond(request, flat, columns, [flat], format)
        own = {k: v for k, v in flat.items() if not k.startswith(q.OUTCOME_PREFIX)}
        outcome = {k.removeprefix(q.OUTCOME_PREFIX): v for k, v in flat.items() if k.startswith(q.OUTCOME_PREFIX)}
        own["outcome"] = outcome if outcome.get("outcome_id") is not None else None
        return _respond(request, own, columns, [flat], format)

    @app.get(f"{PREFIX}/views", tags=["views"], response_model=list[schemas.ViewInfo])
    def list_views(who: Who) -> list[dict[str, Any]]:
        """The analytics views (`sql/redshift/`), their columns and the filters each accepts."""
        return [{"name": v.name, "columns": list(v.columns), "filters": list(v.filters), "date_column": v.date_column}
                for v in views().values()]

    @app.get(PREFIX + "/views/{view}", tags=["views"], responses=_ok(schemas.ViewPage))
    def get_view(request: Request, who: Who,
                 view: ViewName,
                 facility_id: Facilities = None, robot_id: RobotFilter = None, start: From = None, end: To = None,
                 limit: Limit = q.DEFAULT_LIMIT, cursor: CursorParam = None, format: Format = None) -> Response:
        """One analytics view, computed over the facilities the token grants (narrowed by `facility_id`)."""
        v = views().get(view)
        if v is None:
            raise Problem(NOT_FOUND, f"no view {view!r}; GET {PREFIX}/views lists them")
        given = {"robot_id": robot_id, "from": start, "to": end}
        unsupported = [k for k, value in given.items() if value is not None and k not in v.filters]
        if unsupported:
            raise Problem(INVALID_REQUEST, f"{view} has no filter {', '.join(unsupported)} (allowed: {v.filters})")
        facilities = _facilities(facility_id)
        return page(request, f"views/{view}", {"facility_id": facilities, **given, "limit": limit},
                    lambda c: q.view(who, v, facility_id=facilities, robot_id=robot_id, start=start, end=end,
                                     limit=limit, cursor=c), cursor, format)

    @app.get(PREFIX + "/panels/{name}", tags=["dashboard"], responses=_ok(schemas.PanelPage))
    def get_panel(request: Request, who: Who, name: PanelName, facility_id: Facilities = None,
                  robot_id: RobotFilter = None, start: From = None, end: To = None,
                  days: Annotated[int | None, Query(ge=1, le=366, description="adherence: utilization window")] = None,
                  silent_hours: Annotated[float | None, Query(gt=0, le=8760, description="adherence: silent above")]
                  = None,
                  threshold: Annotated[float | None, Query(ge=0, le=1, description="adherence: utilization below")]
                  = None,
                  format: Format = None) -> Response:
        """One dashboard panel (`api/sql/<name>.sql`) over the facilities the token grants (narrowed by
        `facility_id`): fleet KPIs, procedures per week, outcomes per month, utilization per day, adherence;
        the ingest panels (reconciliation, ledger_status, rejects) need the admin group."""
        p = PANELS.get(name)
        if p is None:
            raise Problem(NOT_FOUND, f"no panel {name!r}")
        given = {"robot_id": robot_id, "from": start, "to": end, "days": days, "silent_hours": silent_hours,
                 "threshold": threshold}
        unsupported = [k for k, value in given.items() if value is not None and k not in p.filters]
        if unsupported:
            raise Problem(INVALID_REQUEST, f"panel {name} has no filter {', '.join(unsupported)} "
                                           f"(allowed: facility_id, {', '.join(p.filters) or 'nothing else'})")
        statement = panel(who, name, facility_id=_facilities(facility_id), robot_id=robot_id, start=start, end=end,
                          days=days, silent_hours=silent_hours, threshold=threshold)
        columns, rows = ctx.analytics.run(statement)
        items = records(columns, rows)
        return _respond(request, {"data": items, "next_cursor": None}, columns, items, format)

    @app.get(f"{PREFIX}/ingest/objects", tags=["ingest"], responses=_ok(schemas.LedgerPage))
    def ingest_objects(request: Request, who: Who, status: Text = None,
                       since: Annotated[When | None, Query(description="finished (or first seen) at or after")] = None,
                       limit: Limit = q.DEFAULT_LIMIT, cursor: CursorParam = None, format: Format = None) -> Response:
        """The ingest ledger, one row per source object (admin only)."""
        if not who.admin:
            raise Problem(FORBIDDEN, "the ingest ledger needs the admin group")
        return page(request, "ingest_objects", {"status": status, "since": since, "limit": limit},
                    lambda c: q.ledger(who, status=status, since=since, limit=limit, cursor=c), cursor, format)

    _trim_openapi(app)
    return app


def _decode(token: str, fp: str) -> Cursor:
    try:
        return decode(token, fp)
    except CursorError as exc:
        raise Problem(INVALID_CURSOR, str(exc)) from exc


def _install_handlers(app: FastAPI, ctx: ApiContext) -> None:
    def render(request: Request, problem: Problem) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="surgical-lake"'} if problem.kind is UNAUTHORIZED else {}
        return Response(to_json(problem.body(request.url.path)), status_code=problem.kind.status,
                        media_type=MEDIA_TYPE, headers=headers)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        where = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) or "request" for e in exc.errors()})
        return render(request, Problem(INVALID_REQUEST, f"invalid: {', '.join(where)}"))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}.get(exc.status_code, INVALID_REQUEST)
        return render(request, Problem(kind))

    for error, kind in ((CursorError, INVALID_CURSOR), (BadValue, INVALID_REQUEST),
                        (EngineUnavailable, ENGINE_UNAVAILABLE), (ScopeError, FORBIDDEN)):
        app.add_exception_handler(error, _mapped(render, kind))

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path)  # never the message: it may hold values
        return render(request, Problem(INTERNAL))

    app.add_middleware(AccessLog, logger=ctx.access_log)

    if ctx.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(ctx.cors_origins), allow_methods=["GET"],
                           allow_headers=["Authorization", "Accept"], expose_headers=["X-Next-Cursor"])


class AccessLog:
    """One JSON line per request: who, which endpoint (the route template, never the query string),
    status, rows, ms. A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task group
    and a stream per request)."""

    def __init__(self, app: Any, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            state = scope.get("state") or {}
            who: Principal | None = state.get("principal")
            self.logger.info(json.dumps({
                "principal": who.subject if who else None,
                "facilities": sorted(who.facilities) if who else None,
                "admin": who.admin if who else None,
                "method": scope.get("method"),
                "endpoint": getattr(scope.get("route"), "path", "(unmatched)"),
                "status": status,
                "rows": state.get("rows"),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }))


def _mapped(render: Callable[[Request, Problem], Response], kind: ProblemType) -> Callable[..., Any]:
    async def handler(request: Request, exc: Exception) -> Response:
        return render(request, Problem(kind))

    return handler


def _trim_openapi(app: FastAPI) -> None:
    """FastAPI documents 422 for validation errors; this API answers 400 problem+json instead."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""Response models for the OpenAPI document, built from the contract's columns.

The handlers return rows directly (no per-row model validation: it would cost more than the
query); these models only describe the responses, and the schemathesis test checks every
response against them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from api.catalog import entity_columns, is_patient_level, lake_columns
from lake.contract import (
    PROCEDURE_OUTCOMES,
    ROBOT_MAINTENANCE_LOGS,
    SURGICAL_PROCEDURES,
    SURGICAL_ROBOTS,
    Column,
    DType,
)

_PY: dict[DType, Any] = {DType.STRING: str, DType.INT: int, DType.FLOAT: float, DType.BOOL: bool,
                         DType.DATE: dt.date, DType.TIMESTAMP: dt.datetime}


def _model(name: str, columns: tuple[Column, ...], **extra: Any) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for c in columns:
        kind = _PY[c.dtype]
        if is_patient_level(c):  # present only for principals holding phi:pseudonymized
            fields[c.name] = (kind | None, Field(None, description=f"{c.description} (phi:pseudonymized only)"))
        elif c.nullable:
            fields[c.name] = (kind | None, Field(..., description=c.description))
        else:
            fields[c.name] = (kind, Field(..., description=c.description))
    fields.update(extra)
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def _page(item: type[BaseModel]) -> type[BaseModel]:
    return create_model(f"{item.__name__}Page", data=(list[item], ...),  # type: ignore[valid-type]
                        next_cursor=(str | None, Field(..., description="pass as `cursor` for the next page")))


Robot = _model("Robot", entity_columns(SURGICAL_ROBOTS.name))
Outcome = _model("Outcome", entity_columns(PROCEDURE_OUTCOMES.name))
Procedure = _model("Procedure", entity_columns(SURGICAL_PROCEDURES.name))
ProcedureDetail = _model("ProcedureDetail", entity_columns(SURGICAL_PROCEDURES.name),
                         outcome=(Outcome | None, Field(..., description="NULL until the outcome is loaded")))
Maintenance = _model("Maintenance", entity_columns(ROBOT_MAINTENANCE_LOGS.name))
TelemetryHour = _model("TelemetryHour", lake_columns("telemetry_hourly"))
Anomaly = _model("Anomaly", lake_columns("telemetry_anomalies"))


class ViewRow(BaseModel):
    model_config = ConfigDict(extra="allow")


class LedgerObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    object_key: str
    content_checksum: str
    status: str


class ViewInfo(BaseModel):
    name: str
    columns: list[str]
    filters: list[str]
    date_column: str | None


class EngineHealth(BaseModel):
    engine: str
    up: bool
    ms: float
    error: str | None = None


class Health(BaseModel):
    status: str = Field(..., description="ok when every engine is up, else degraded (HTTP 503)")
    engines: dict[str, EngineHealth]


RobotPage, ProcedurePage, MaintenancePage = _page(Robot), _page(Procedure), _page(Maintenance)
PanelPage = create_model("PanelPage", data=(list[ViewRow], ...),
                         next_cursor=(None, Field(None, description="always null: a panel is one page")))
TelemetryHourPage, AnomalyPage, ViewPage, LedgerPage = (_page(TelemetryHour), _page(Anomaly), _page(ViewRow),
                                                        _page(LedgerObject))

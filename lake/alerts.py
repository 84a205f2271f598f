"""Alerts: the episodes the rollup hands over and the event every subscriber receives.

The Glue job writes *candidates* (an episode as the run saw it, no facility) to
`<processed>/_alerts/pending/<run>.json`; the alerts function de-duplicates them in RDS
(`alert_episodes`, sql/rds/070), adds the robot's facility and puts one EventBridge event per
new episode on the lake's bus; the router republishes each to SNS with `facility_id` as a
message attribute. Locally the same events land in `<workdir>/state/alerts.ndjson`.

Event detail (also the SNS message body), never patient data::

    {"schema_version": 1, "alert_id": "5f0c...", "kind": "anomaly_episode",
     "robot_id": "ROBOT-0007", "facility_id": "FAC-003", "metric": "motor_temp_c_avg",
     "first_hour": "2025-03-04T10:00:00Z", "last_hour": "2025-03-04T12:00:00Z",
     "anomalous_hours": 3, "peak_z": 4.21, "detected_at": "2025-03-04T13:16:02Z"}

Example:
    >>> c = Candidate("anomaly_episode", "ROBOT-0007", "motor_temp_c_avg",
    ...               datetime(2025, 3, 4, 10, tzinfo=UTC), datetime(2025, 3, 4, 12, tzinfo=UTC), 3, 4.21)
    >>> Candidate.from_dict(c.to_dict()) == c
    True
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1
ANOMALY_EPISODE = "anomaly_episode"
FAILURE_PRECURSOR = "failure_precursor"
# EventBridge `detail-type` per kind; the `source` of every alert event.
DETAIL_TYPES: dict[str, str] = {
    ANOMALY_EPISODE: "Telemetry anomaly episode",
    FAILURE_PRECURSOR: "Failure precursor",
}
EVENT_SOURCE = "surgical-lake.analytics"
PRECURSOR_METRIC = "failure_precursor"  # the `metric` of a precursor alert
FACILITY_ATTRIBUTE = "facility_id"  # the SNS message attribute hospitals filter on
UNKNOWN_FACILITY = "unknown"  # attribute value when RDS does not know the robot (orphan telemetry)
PENDING_PREFIX = "_alerts/pending/"  # in the processed bucket: candidates the job wrote
ALERT_TABLE = "alert_episodes"  # RDS (public schema)
_ID_NAMESPACE = uuid.UUID("8c6f4e1a-3b7d-4f5e-9a21-5d0b6c9e7f10")


class AlertFormatError(ValueError):
    """A candidate or event does not have the documented shape."""


def iso_hour(value: datetime) -> str:
    """`2025-03-04T10:00:00Z` (UTC, seconds precision)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise AlertFormatError(f"not an ISO 8601 time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Candidate:
    """One episode as a rollup run saw it: consecutive flagged hours of one robot and metric.

    `first_hour` / `last_hour` are the starts of the first and last flagged UTC hours;
    `peak_z` is the flagged hour's z-score with the largest magnitude (signed).
    """

    kind: str
    robot_id: str
    metric: str
    first_hour: datetime
    last_hour: datetime
    anomalous_hours: int
    peak_z: float

    def __post_init__(self) -> None:
        if self.kind not in DETAIL_TYPES:
            raise AlertFormatError(f"unknown alert kind {self.kind!r}; known: {sorted(DETAIL_TYPES)}")
        if self.last_hour < self.first_hour:
            raise AlertFormatError(f"{self.robot_id} {self.metric}: last_hour before first_hour")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "robot_id": self.robot_id, "metric": self.metric,
                "first_hour": iso_hour(self.first_hour), "last_hour": iso_hour(self.last_hour),
                "anomalous_hours": self.anomalous_hours, "peak_z": round(self.peak_z, 4)}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Candidate:
        try:
            return cls(str(value["kind"]), str(value["robot_id"]), str(value["metric"]),
                       parse_time(value["first_hour"]), parse_time(value["last_hour"]),
                       int(value["anomalous_hours"]), float(value["peak_z"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise AlertFormatError(f"not an alert candidate: {exc}") from None


def alert_id(kind: str, robot_id: str, metric: str, first_hour: datetime) -> str:
    """Stable id of an episode as first recorded (a subscriber can de-duplicate on it)."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}|{robot_id}|{metric}|{iso_hour(first_hour)}"))


def event_detail(candidate: Candidate, alert: str, facility_id: str | None, detected_at: datetime) -> dict[str, Any]:
    """The event's `detail` (and SNS body): the candidate plus id, facility and detection time."""
    return {"schema_version": SCHEMA_VERSION, "alert_id": alert, **candidate.to_dict(),
            "facility_id": facility_id or UNKNOWN_FACILITY, "detected_at": iso_hour(detected_at)}


def put_events_entry(detail: Mapping[str, Any], bus_name: str) -> dict[str, str]:
    """One `events:PutEvents` entry for an alert detail."""
    return {"Source": EVENT_SOURCE, "DetailType": DETAIL_TYPES[str(detail["kind"])],
            "Detail": json.dumps(detail, sort_keys=True), "EventBusName": bus_name}


def candidates_from_json(payload: Any) -> list[Candidate]:
    """Candidates from a pending file's parsed JSON (`{"candidates": [...]}`)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("candidates"), list):
        raise AlertFormatError('a pending file holds {"candidates": [...]}')
    return [Candidate.from_dict(c) for c in payload["candidates"]]


def candidates_to_json(candidates: Iterable[Candidate], run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "candidates": [c.to_dict() for c in candidates]}

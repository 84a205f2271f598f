"""How well do the alerts foretell failures? Precision and recall against recorded maintenance.

Ground truth: the failures the data records (maintenance of type unscheduled or emergency).
The generator drifts a robot's telemetry over the 7 days before each failure
(`generators.telemetry.DRIFT_DAYS`), so the horizon is 7 days:

- an alert is *true* when a failure of its robot starts after the alert's first hour and at
  most 7 days later; precision = true alerts / alerts;
- a failure is *detected* when an alert of its robot has its first hour in the 7 days before
  the failure's start; recall = detected failures / failures, also over the *observable*
  failures only (the robot sent measured telemetry in those 7 days: without it no rule sees
  anything);
- the base rate is the share of measured robot-hours followed by a failure of that robot
  within 7 days: the precision of an alert raised at a random measured hour.

`score` is pure; `measure` reads the alerts, failures and measured hours from the local
analytics engine (`rds.alert_episodes`, `rds.robot_maintenance_logs`, `lake.telemetry_hourly`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lake.alerts import DETAIL_TYPES

HORIZON = timedelta(days=7)

Event = tuple[str, datetime]  # (robot_id, time)


@dataclass(frozen=True)
class Score:
    kind: str
    alerts: int
    true_alerts: int
    failures: int
    detected: int
    observable: int
    detected_observable: int
    base_rate: float | None

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.detected / self.failures if self.failures else None

    @property
    def recall_observable(self) -> float | None:
        return self.detected_observable / self.observable if self.observable else None


def _by_robot(events: Sequence[Event]) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = {}
    for robot, when in events:
        out.setdefault(robot, []).append(when)
    return {robot: sorted(times) for robot, times in out.items()}


def _any_in(times: list[datetime], low: datetime, high: datetime, *, low_open: bool) -> bool:
    """Whether sorted `times` holds a value in (low, high] (low_open) or [low, high)."""
    if low_open:
        i = bisect.bisect_right(times, low)
        return i < len(times) and times[i] <= high
    i = bisect.bisect_left(times, low)
    return i < len(times) and times[i] < high


def score(kind: str, alerts: Sequence[Event], failures: Sequence[Event], measured: Sequence[Event],
          horizon: timedelta = HORIZON) -> Score:
    """Precision, recall and base rate of alerts (robot, first hour) against failures (robot, start)."""
    failures_by = _by_robot(failures)
    alerts_by = _by_robot(alerts)
    measured_by = _by_robot(measured)
    true_alerts = sum(_any_in(failures_by.get(r, []), t, t + horizon, low_open=True) for r, t in alerts)
    detected = observable = detected_observable = 0
    for robot, start in failures:
        hit = _any_in(alerts_by.get(robot, []), start - horizon, start, low_open=False)
        seen = _any_in(measured_by.get(robot, []), start - horizon, start, low_open=False)
        detected += hit
        observable += seen
        detected_observable += hit and seen
    followed = sum(_any_in(failures_by.get(r, []), t, t + horizon, low_open=True) for r, t in measured)
    base = followed / len(measured) if measured else None
    return Score(kind, len(alerts), true_alerts, len(failures), detected, observable, detected_observable, base)


def measure(con: Any, horizon: timedelta = HORIZON) -> list[Score]:
    """One Score per alert kind, from the local analytics engine's tables."""
    failures = con.execute("SELECT robot_id, started_at FROM rds.robot_maintenance_logs"
                           " WHERE maintenance_type IN ('unscheduled', 'emergency')").fetchall()
    measured = con.execute("SELECT DISTINCT robot_id, hour FROM lake.telemetry_hourly"
                           " WHERE NOT is_imputed AND sample_count > 0").fetchall()
    out = []
    for kind in DETAIL_TYPES:
        alerts = con.execute("SELECT robot_id, first_hour FROM rds.alert_episodes WHERE kind = ?", [kind]).fetchall()
        out.append(score(kind, [_utc(a) for a in alerts], [_utc(f) for f in failures], [_utc(m) for m in measured],
                         horizon))
    return out


def _utc(event: tuple[Any, Any]) -> Event:
    robot, when = event
    from datetime import UTC

    return str(robot), (when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def accuracy_rows(scores: Sequence[Score]) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = ["kind", "alerts", "precision", "failures", "recall", "recall (observable)"]
    rows = [(s.kind, s.alerts, _pct(s.precision), s.failures, _pct(s.recall), _pct(s.recall_observable))
            for s in scores]
    return columns, rows


def accuracy_note(scores: Sequence[Score]) -> str:
    base = next((s.base_rate for s in scores if s.base_rate is not None), None)
    observable = scores[0].observable if scores else 0
    failures = scores[0].failures if scores else 0
    return (f"an alert is true when its robot fails within 7 days; {observable} of {failures} failures had "
            f"telemetry in the 7 days before; a random measured robot-hour precedes a failure within 7 days "
            f"{_pct(base)} of the time (the precision of guessing)")

"""Detection settings: anomaly z-scores, sample gaps, failure precursors and inactivity.

One typed object, read the same way in AWS and locally: `cdk.json` (per environment) ->
`infra/config.py: LakeConfig.detection` -> the Glue job's `--DETECTION_SETTINGS` argument
(JSON, `job_arguments()`) and local mode's `run_rollup(..., settings=...)`; the SQL views get
the few values they need as `{{PLACEHOLDERS}}` (`sql_placeholders()`). Pure data: no Spark,
no boto3, nothing imported from outside `lake/`.

Example:
    >>> s = DetectionSettings(z_threshold=2.5, metrics=("motor_temp_c_avg",))
    >>> DetectionSettings.from_json(s.to_json()) == s
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lake.contract import ANOMALY_METRICS  # what the rule can watch: `telemetry_anomalies.metric`

# The Glue job argument that carries the settings (`--DETECTION_SETTINGS '{"z_threshold": 3.0, ...}'`).
JOB_ARGUMENT = "DETECTION_SETTINGS"
# CloudWatch evaluates an alarm over at most 7 days (Period x EvaluationPeriods <= 604,800 s).
MAX_INACTIVITY_HOURS = 168
# Freshness: what the ingest counts per facility (EMF, namespace SurgicalLake, dimensions
# service=ingest and FACILITY_DIMENSION), by entity; an alarm per facility treats silence as breaching.
FRESHNESS_METRICS: dict[str, str] = {
    "surgical_procedures": "ProceduresLoaded",
    "procedure_telemetry": "TelemetrySamplesLoaded",
}
FACILITY_DIMENSION = "facility_id"


class SettingsError(ValueError):
    """A detection setting is unknown or outside its allowed range."""


@dataclass(frozen=True)
class DetectionSettings:
    """What counts as an anomaly, a sample gap, a failure precursor and an inactive robot.

    Anomalies (per robot-hour, arms pooled; `glue_jobs/telemetry_rollup.py`): a metric in
    `metrics` is flagged when the robot's measured robot-hours in `[hour - baseline_days, hour)`
    number at least `min_baseline_hours`, their sample stddev is > 0 and
    `|value - mean| / stddev >= z_threshold`. Flagged hours of one robot and metric form one
    episode while no measured, unflagged hour of that robot lies between them and they are at
    most `episode_gap_hours` apart.

    Gaps (per robot, arm and UTC hour inside a procedure's [actual_start, actual_end]): the
    usual rate is the arm's samples per second of procedure time over its measured hours that
    date; an hour is a `sample_gap` when it has no sample although it overlaps the procedure
    by at least `gap_min_overlap_minutes`, or when it holds fewer than `gap_rate_share` x the
    samples the usual rate predicts (only judged when it predicts >= `gap_min_expected_samples`).

    Failure precursors (per measured robot-hour h): sample-weighted motor temperature and mean
    latency over `[h - precursor_window_days, h]` against the `precursor_baseline_days` before
    that window, each as a z-score over the baseline's robot-hour values. A precursor hour
    needs both z-scores >= `precursor_min_z`, >= `precursor_min_window_hours` hours in the
    window and >= `precursor_min_baseline_hours` in the baseline.

    Inactivity: a robot (or a facility's feed) silent for more than `inactivity_hours`.
    """

    z_threshold: float = 3.0
    baseline_days: int = 7
    min_baseline_hours: int = 6
    metrics: tuple[str, ...] = ANOMALY_METRICS
    episode_gap_hours: int = 24
    gap_rate_share: float = 0.5
    gap_min_expected_samples: float = 4.0
    gap_min_overlap_minutes: int = 15
    precursor_window_days: int = 3
    precursor_baseline_days: int = 30
    precursor_min_z: float = 2.0
    precursor_min_window_hours: int = 3
    precursor_min_baseline_hours: int = 24
    inactivity_hours: int = 48

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        unknown = sorted(set(self.metrics) - set(ANOMALY_METRICS))
        if unknown or not self.metrics or len(set(self.metrics)) != len(self.metrics):
            raise SettingsError(f"metrics must be distinct names from {list(ANOMALY_METRICS)}, "
                                f"got {list(self.metrics)}")
        _positive(self, "z_threshold", "precursor_min_z", "gap_min_expected_samples")
        _at_least_one(self, "baseline_days", "min_baseline_hours", "episode_gap_hours", "gap_min_overlap_minutes",
                      "precursor_window_days", "precursor_baseline_days", "precursor_min_window_hours",
                      "precursor_min_baseline_hours", "inactivity_hours")
        if not 0 < self.gap_rate_share < 1:
            raise SettingsError(f"gap_rate_share must be between 0 and 1 (exclusive), got {self.gap_rate_share}")
        if self.gap_min_overlap_minutes > 60:
            raise SettingsError(f"gap_min_overlap_minutes must be at most 60, got {self.gap_min_overlap_minutes}")
        if self.inactivity_hours > MAX_INACTIVITY_HOURS:
            raise SettingsError(f"inactivity_hours must be at most {MAX_INACTIVITY_HOURS} (CloudWatch evaluates "
                                f"alarms over at most 7 days), got {self.inactivity_hours}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DetectionSettings:
        """Settings from a mapping (omitted keys keep their defaults); SettingsError on bad input."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise SettingsError(f"unknown detection settings {unknown}; known: {sorted(fields)}")
        typed: dict[str, Any] = {}
        for name, value in values.items():
            default = fields[name].default
            try:
                if isinstance(default, tuple):
                    if isinstance(value, str) or not isinstance(value, list | tuple):
                        raise TypeError
                    typed[name] = tuple(str(v) for v in value)
                elif isinstance(default, int) and not isinstance(default, bool):
                    if isinstance(value, bool) or float(value) != int(value):
                        raise TypeError
                    typed[name] = int(value)
                else:
                    if isinstance(value, bool):
                        raise TypeError
                    typed[name] = float(value)
            except (TypeError, ValueError):
                raise SettingsError(f"{name}: expected {type(default).__name__}, got {value!r}") from None
        return cls(**typed)

    @classmethod
    def from_json(cls, text: str) -> DetectionSettings:
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise SettingsError(f"detection settings are not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise SettingsError("detection settings must be a JSON object")
        return cls.from_mapping(values)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """Changes when a setting that shapes the rollup's output changes (not inactivity_hours)."""
        values = {k: v for k, v in dataclasses.asdict(self).items() if k != "inactivity_hours"}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]

    def job_arguments(self) -> dict[str, str]:
        """The Glue job's default arguments for these settings."""
        return {f"--{JOB_ARGUMENT}": self.to_json()}

    def sql_placeholders(self) -> dict[str, str]:
        """Values for the `{{NAME}}` placeholders of `sql/redshift/` views."""
        return {"INACTIVITY_HOURS": str(self.inactivity_hours)}

    @property
    def lookback_days(self) -> int:
        """Days of hourly rollups before a date that anomaly and precursor rules read."""
        return max(self.baseline_days, self.precursor_window_days + self.precursor_baseline_days)


def _positive(s: DetectionSettings, *names: str) -> None:
    for name in names:
        if not getattr(s, name) > 0:
            raise SettingsError(f"{name} must be > 0, got {getattr(s, name)}")


def _at_least_one(s: DetectionSettings, *names: str) -> None:
    for name in names:
        if getattr(s, name) < 1:
            raise SettingsError(f"{name} must be >= 1, got {getattr(s, name)}")

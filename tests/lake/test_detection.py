"""Detection settings: validation, the job argument, and the per-environment config."""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError, load_config, read_context
from lake.contract import ANOMALY_METRICS
from lake.detection import DetectionSettings, SettingsError


def test_defaults_are_today_s_rule() -> None:
    s = DetectionSettings()
    assert (s.z_threshold, s.baseline_days, s.min_baseline_hours, s.metrics) == (3.0, 7, 6, ANOMALY_METRICS)
    assert s.inactivity_hours == 48 and s.lookback_days == 33  # the precursor rule reads 3 + 30 days back


def test_job_argument_round_trips_and_changes_digest_only_for_the_rollup() -> None:
    s = DetectionSettings(z_threshold=2.5, metrics=("latency_ms_p95", "error_count"))
    (flag, value), = s.job_arguments().items()
    assert flag == "--DETECTION_SETTINGS" and DetectionSettings.from_json(value) == s
    assert s.digest() != DetectionSettings().digest()
    assert DetectionSettings(inactivity_hours=24).digest() == DetectionSettings().digest()  # views only
    assert DetectionSettings(inactivity_hours=24).sql_placeholders() == {"INACTIVITY_HOURS": "24"}


@pytest.mark.parametrize(("values", "message"), [
    ({"metrics": ["motor_temp"]}, "metrics must be distinct names"),
    ({"metrics": []}, "metrics must be distinct names"),
    ({"metrics": "error_count"}, "metrics: expected tuple"),
    ({"z_threshold": 0}, "z_threshold must be > 0"),
    ({"z_threshold": True}, "z_threshold: expected float"),
    ({"baseline_days": 1.5}, "baseline_days: expected int"),
    ({"min_baseline_hours": 0}, "min_baseline_hours must be >= 1"),
    ({"gap_rate_share": 1.0}, "gap_rate_share must be between 0 and 1"),
    ({"inactivity_hours": 169}, "at most 168"),
    ({"z_thresold": 3}, "unknown detection settings"),
])
def test_bad_settings_are_refused_with_a_reason(values: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        DetectionSettings.from_mapping(values)


def test_from_json_refuses_what_is_not_an_object() -> None:
    with pytest.raises(SettingsError, match="not JSON"):
        DetectionSettings.from_json("{")
    with pytest.raises(SettingsError, match="JSON object"):
        DetectionSettings.from_json("[1]")


def test_each_environment_reads_its_settings_from_cdk_json() -> None:
    # GIVEN cdk.json with prod overriding the threshold and the watched metrics
    context = copy.deepcopy(read_context())
    context["surgical-lake"]["environments"]["prod"].update(
        {"anomaly_z_threshold": 3.5, "anomaly_metrics": ["motor_temp_c_avg"]})
    # THEN prod gets them, dev keeps the shared values
    prod, dev = load_config("prod", context).detection, load_config("dev", context).detection
    assert (prod.z_threshold, prod.metrics) == (3.5, ("motor_temp_c_avg",))
    assert (dev.z_threshold, dev.metrics) == (3.0, ANOMALY_METRICS)
    # AND a bad value is a configuration error naming the environment
    context["surgical-lake"]["environments"]["prod"]["inactivity_hours"] = 500
    with pytest.raises(ConfigError, match="environment 'prod'.*at most 168"):
        load_config("prod", context)

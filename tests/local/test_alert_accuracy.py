"""Precision and recall of alerts against recorded failures, on hand-made events."""

from __future__ import annotations

import datetime as dt

from local.analytics.alert_scoring import accuracy_rows, score


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, tzinfo=dt.UTC)


def test_alerts_count_when_a_failure_of_their_robot_follows_within_7_days() -> None:
    # GIVEN failures: R1 on the 10th and the 30th, R2 on the 15th
    failures = [("R1", at(10)), ("R1", at(30)), ("R2", at(15))]
    alerts = [
        ("R1", at(5)),  # 5 days before R1's first failure: true, detects it
        ("R1", at(3)),  # exactly 7 days before: still true
        ("R1", at(1)),  # 9 days before: false
        ("R2", at(15)),  # at the failure's start: too late, false
        ("R3", at(12)),  # a robot that never fails: false
    ]
    # AND measured robot-hours: R1 two days before its failure, R2 two weeks before its
    measured = [("R1", at(8, 12)), ("R2", at(1))]
    s = score("anomaly_episode", alerts, failures, measured)
    # THEN precision 2 / 5, recall 1 / 3 (the 30th and R2's failure had no alert before them),
    # and only the 10th was observable (R2 sent nothing in the 7 days before the 15th)
    assert (s.alerts, s.true_alerts, s.precision) == (5, 2, 2 / 5)
    assert (s.failures, s.detected, s.recall) == (3, 1, 1 / 3)
    assert (s.observable, s.detected_observable, s.recall_observable) == (1, 1, 1.0)
    # AND a random measured hour precedes a failure within 7 days half the time here
    assert s.base_rate == 1 / 2
    assert accuracy_rows([s])[1] == [("anomaly_episode", 5, "40 %", 3, "33 %", "100 %")]


def test_nothing_to_score_is_reported_as_such() -> None:
    s = score("failure_precursor", [], [], [])
    assert (s.precision, s.recall, s.recall_observable, s.base_rate) == (None, None, None, None)
    assert accuracy_rows([s])[1] == [("failure_precursor", 0, "-", 0, "-", "-")]

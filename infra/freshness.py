"""Freshness: an alarm per facility and feed when the ingest has heard nothing for too long.

The ingest counts what each object loaded per facility (`lake.detection.FRESHNESS_METRICS`:
procedures, telemetry samples). Silence is the signal here, so missing data is breaching: an
alarm fires when `inactivity_hours` consecutive hourly periods have no data point (or a sum
below 1) and recovers with the next load. CloudWatch evaluates at most 7 days
(Period x EvaluationPeriods <= 604,800 s), which bounds `inactivity_hours` (lake/detection.py).
Facilities are listed per environment in cdk.json (`freshness_facilities`): an alarm cannot
watch a facility it does not know, and a facility that never sent anything has no metric to find.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from infra.config import LakeConfig
from infra.monitoring import INGEST_NAMESPACE, INGEST_SERVICE, LakeMonitoring
from lake.detection import FACILITY_DIMENSION, FRESHNESS_METRICS


@dataclass(frozen=True)
class FreshnessProps:
    config: LakeConfig
    monitoring: LakeMonitoring  # the alarm topic's owner (its policy names each alarm)


class LakeFreshness(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: FreshnessProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        hours = cfg.detection.inactivity_hours
        self.alarms: list[cw.Alarm] = []
        for facility in cfg.freshness_facilities:
            for entity, metric_name in FRESHNESS_METRICS.items():
                metric = cw.Metric(namespace=INGEST_NAMESPACE, metric_name=metric_name, statistic="Sum",
                                   period=Duration.hours(1),
                                   dimensions_map={"service": INGEST_SERVICE, FACILITY_DIMENSION: facility})
                alarm = cw.Alarm(
                    self, f"{metric_name}{facility}", alarm_name=f"{cfg.prefix}-silent-{facility}-{entity}",
                    alarm_description=f"{facility} has sent no {entity} for {hours} hours", metric=metric,
                    threshold=1, comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation_periods=hours, datapoints_to_alarm=hours,
                    treat_missing_data=cw.TreatMissingData.BREACHING,
                )
                props.monitoring.route_alarm(alarm, recovery=True)
                self.alarms.append(alarm)

"""EventBridge alert event -> SNS, with the facility as a message attribute.

EventBridge's SNS target cannot set message attributes, and SNS subscription filter policies
on attributes are what lets each hospital subscribe to its own facility; so the bus rule
targets this function, which republishes the event's detail unchanged as the message body.

Example subscription filter policy (SNS): `{"facility_id": ["FAC-003"]}`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import boto3

from lake.alerts import DETAIL_TYPES, EVENT_SOURCE, FACILITY_ATTRIBUTE, UNKNOWN_FACILITY, AlertFormatError

_state: dict[str, Any] = {}


def message(event: Mapping[str, Any]) -> dict[str, Any]:
    """The SNS `Publish` arguments (without TopicArn) for one alert event; AlertFormatError if it is none."""
    detail = event.get("detail")
    if event.get("source") != EVENT_SOURCE or not isinstance(detail, Mapping) or detail.get("kind") not in DETAIL_TYPES:
        raise AlertFormatError("not a surgical-lake alert event")
    facility = str(detail.get("facility_id") or UNKNOWN_FACILITY)
    what = "failure precursor" if detail["kind"] == "failure_precursor" else f"{detail['metric']} anomaly"
    return {
        "Subject": f"surgical-lake: {what} on {detail['robot_id']} ({facility})"[:100],
        "Message": json.dumps(dict(detail), sort_keys=True),
        "MessageAttributes": {
            FACILITY_ATTRIBUTE: {"DataType": "String", "StringValue": facility},
            "kind": {"DataType": "String", "StringValue": str(detail["kind"])},
            "robot_id": {"DataType": "String", "StringValue": str(detail["robot_id"])},
        },
    }


def route(event: Mapping[str, Any], sns: Any, topic_arn: str) -> str:
    """Publish one alert event to the topic; returns the SNS message id."""
    return str(sns.publish(TopicArn=topic_arn, **message(event))["MessageId"])


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    if "sns" not in _state:
        _state["sns"] = boto3.client("sns")
    return {"MessageId": route(event, _state["sns"], os.environ["ALERT_TOPIC_ARN"])}

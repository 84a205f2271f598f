"""The alerts function (in the VPC, reaching RDS through the proxy): two entry events.

- `{"action": "export_windows"}`, invoked synchronously by the Glue job before it rolls up:
  writes the procedure windows from RDS to the processed bucket (`windows.export_windows`).
- a Glue Job State Change event (SUCCEEDED) of the rollup job: records the run's candidates
  and publishes the new episodes (`publisher.publish_pending`).

Logs carry counts and ids, never row content.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import boto3
import psycopg
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters

from lambdas.alerts.config import AlertsConfig
from lambdas.alerts.errors import AlertsError
from lambdas.alerts.publisher import publish_pending
from lambdas.alerts.windows import export_windows

logger = Logger(service="alerts")
_state: dict[str, Any] = {}


def _config() -> AlertsConfig:
    if "config" not in _state:
        _state["config"] = AlertsConfig.from_env()
    return _state["config"]


def _client(name: str) -> Any:
    if name not in _state:
        _state[name] = boto3.client(name)
    return _state[name]


def _connect(config: AlertsConfig) -> psycopg.Connection:
    secret = None if config.database_url else parameters.get_secret(config.db_secret_arn or "", max_age=300)
    return psycopg.connect(config.conninfo(secret), autocommit=True)


@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    config = _config()
    if event.get("action") == "export_windows":
        with _connect(config) as conn:
            exported = export_windows(conn, _client("s3"), config.processed_bucket)
        logger.info("procedure windows exported", extra=dataclasses.asdict(exported))
        return dataclasses.asdict(exported)
    if event.get("source") == "aws.glue":
        with _connect(config) as conn:
            result = publish_pending(conn, _client("s3"), _client("events"), config.processed_bucket,
                                     config.event_bus_name)
        summary = {"files": result.files, "candidates": result.candidates, "new": result.new,
                   "merged": result.merged, "published": [d["alert_id"] for d in result.published]}
        logger.info("alerts published", extra=summary)
        return summary
    raise AlertsError("expected {'action': 'export_windows'} or a Glue Job State Change event")

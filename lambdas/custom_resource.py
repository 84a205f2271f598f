"""CloudFormation custom-resource plumbing for our deploy-time Lambdas.

CloudFormation invokes the function directly (service token = function ARN) and waits for a
JSON document PUT to the event's pre-signed `ResponseURL` (reached from the isolated subnets
through the S3 gateway endpoint). `run_custom_resource` does the bookkeeping: call the work for
Create/Update, skip it for Delete, always answer, and never let an exception leave the stack
waiting for an hour.

Example:
    >>> def handler(event, context):
    ...     run_custom_resource(event, context, "rds-migrations", apply)
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

Work = Callable[[Mapping[str, Any]], Mapping[str, str]]
Sender = Callable[[str, bytes], None]
MAX_REASON = 3000


class CustomResourceError(RuntimeError):
    """The work of a custom resource failed; the message becomes the CloudFormation reason."""


def poll_until(
    describe: Callable[[], Mapping[str, Any]],
    state_of: Callable[[Mapping[str, Any]], str],
    done_states: set[str],
    *,
    what: str,
    timeout_s: float,
    poll_s: float,
    sleep: Callable[[float], None],
) -> Mapping[str, Any]:
    """Call `describe` until its state is one of `done_states`; the last description.

    Raises CustomResourceError when `timeout_s` passes first (an asynchronous SQL API: Athena's
    query executions, the Redshift Data API's statements).
    """
    waited = 0.0
    while True:
        status = describe()
        if state_of(status) in done_states:
            return status
        if waited >= timeout_s:
            raise CustomResourceError(f"{what}: still {state_of(status)} after {timeout_s:.0f} s")
        sleep(poll_s)
        waited += poll_s


def put_response(url: str, body: bytes) -> None:
    """PUT the response document to the pre-signed S3 URL CloudFormation gave us."""
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"content-type": "", "content-length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https URL from CFN)
        response.read()


def response_document(
    event: Mapping[str, Any], status: str, physical_id: str, data: Mapping[str, str], reason: str
) -> dict[str, Any]:
    return {
        "Status": status,
        "Reason": reason[:MAX_REASON],
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": dict(data),
    }


def run_custom_resource(
    event: Mapping[str, Any],
    context: Any,
    physical_id: str,
    work: Work,
    send: Sender = put_response,
) -> dict[str, Any]:
    """Run `work(ResourceProperties)` on Create/Update, nothing on Delete; always respond."""
    request = event["RequestType"]
    physical = event.get("PhysicalResourceId") or physical_id
    log_stream = getattr(context, "log_stream_name", "unknown")
    try:
        data = {} if request == "Delete" else dict(work(event.get("ResourceProperties", {})))
        doc = response_document(event, "SUCCESS", physical, data, f"{request} done")
        LOG.info("custom resource %s %s succeeded", event["LogicalResourceId"], request)
    except Exception as exc:  # noqa: BLE001 (any failure must reach CloudFormation)
        LOG.exception("custom resource %s %s failed", event["LogicalResourceId"], request)
        reason = f"{type(exc).__name__}: {exc} (log stream {log_stream})"
        doc = response_document(event, "FAILED", physical, {}, reason)
    send(event["ResponseURL"], json.dumps(doc).encode())
    return doc

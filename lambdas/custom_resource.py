"""CloudFormation custom-resource plumbing for our deploy-time Lambdas.

CloudFormation invokes the function directly (service token = function ARN) and waits for a
JSON document PUT to the event's pre-signed `ResponseURL` (reached from the isolated subnets
through the S3 gateway endpoint). `run_custom_resource` does the bookkeeping: call the work for
Create/Update, skip it for Delete, always answer, and never leave the stack waiting: an
exception becomes FAILED, and a watchdog answers FAILED at the `Deadline` (the invocation's
remaining time minus what answering needs) when the work is still running, because a Lambda that
times out answers nothing and CloudFormation would wait for its ServiceTimeout.

Example:
    >>> def handler(event, context):
    ...     run_custom_resource(event, context, "rds-migrations", apply)
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

Work = Callable[[Mapping[str, Any]], Mapping[str, str]]
Sender = Callable[[str, bytes], None]
MAX_REASON = 3000
# Seconds kept back from the invocation's remaining time to log and PUT the answer (the PUT itself
# gives up after RESPONSE_TIMEOUT_S).
RESPONSE_RESERVE_S = 20.0
RESPONSE_TIMEOUT_S = 10.0


class CustomResourceError(RuntimeError):
    """The work of a custom resource failed; the message becomes the CloudFormation reason."""


@dataclass(frozen=True)
class Deadline:
    """The moment (on `clock`, seconds) by which the work must be done for CloudFormation to
    still get an answer."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + max(0.0, seconds), clock)

    @classmethod
    def from_context(cls, context: Any, reserve_s: float = RESPONSE_RESERVE_S) -> Deadline:
        """From the Lambda context's `get_remaining_time_in_millis()`, less `reserve_s`."""
        return cls.after(context.get_remaining_time_in_millis() / 1000 - reserve_s)

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())


def poll_until(
    describe: Callable[[], Mapping[str, Any]],
    state_of: Callable[[Mapping[str, Any]], str],
    done_states: set[str],
    *,
    what: str,
    deadline: Deadline,
    poll_s: float,
    sleep: Callable[[float], None],
) -> Mapping[str, Any]:
    """Call `describe` until its state is one of `done_states`; the last description.

    For an asynchronous SQL API (Athena's query executions, the Redshift Data API's statements).
    Raises CustomResourceError when the deadline would pass before the next poll.
    """
    while True:
        status = describe()
        if state_of(status) in done_states:
            return status
        if deadline.remaining() <= poll_s:
            raise CustomResourceError(f"{what}: still {state_of(status)} when the function ran out of time")
        sleep(poll_s)


def put_response(url: str, body: bytes) -> None:
    """PUT the response document to the pre-signed S3 URL CloudFormation gave us."""
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"content-type": "", "content-length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S) as response:  # noqa: S310 (CFN's https URL)
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


class _Answer:
    """Sends one response document, whoever comes first: the work or the watchdog."""

    def __init__(self, url: str, send: Sender) -> None:
        self._url, self._send = url, send
        self._lock = threading.Lock()
        self.sent: dict[str, Any] | None = None

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self.sent is None:
                self._send(self._url, json.dumps(doc).encode())
                self.sent = doc
            return self.sent


def run_custom_resource(
    event: Mapping[str, Any],
    context: Any,
    physical_id: str,
    work: Work,
    send: Sender = put_response,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Run `work(ResourceProperties)` on Create/Update, nothing on Delete; answer exactly once.

    The answer is FAILED when the work raises, or when it is still running at `deadline`
    (default: from `context`); the document sent is returned.
    """
    request = event["RequestType"]
    logical = event["LogicalResourceId"]
    physical = event.get("PhysicalResourceId") or physical_id
    log_stream = getattr(context, "log_stream_name", "unknown")
    deadline = deadline or Deadline.from_context(context)
    answer = _Answer(event["ResponseURL"], send)

    def out_of_time() -> None:
        LOG.error("custom resource %s %s still running at its deadline: answering FAILED", logical, request)
        answer(response_document(event, "FAILED", physical, {},
                                 f"{request} did not finish before the function's timeout (log stream {log_stream})"))

    watchdog = threading.Timer(deadline.remaining(), out_of_time)
    watchdog.daemon = True
    watchdog.start()
    try:
        data = {} if request == "Delete" else dict(work(event.get("ResourceProperties", {})))
        doc = response_document(event, "SUCCESS", physical, data, f"{request} done")
        LOG.info("custom resource %s %s succeeded", logical, request)
    except Exception as exc:  # noqa: BLE001 (any failure must reach CloudFormation)
        LOG.exception("custom resource %s %s failed", logical, request)
        reason = f"{type(exc).__name__}: {exc} (log stream {log_stream})"
        doc = response_document(event, "FAILED", physical, {}, reason)
    finally:
        watchdog.cancel()
    return answer(doc)

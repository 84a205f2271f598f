"""Parser model of the S3 event notification inside an SQS body, trimmed to what ingest reads.

Powertools' `S3Model` requires every field real S3 sends (userIdentity, requestParameters,
...); stand-ins such as moto omit some. This model keeps the fields the ingest needs, so the
same code parses notifications from AWS and from local mode.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel

from lambdas.ingest.source import ObjectRef


class S3Bucket(BaseModel):
    name: str


class S3Object(BaseModel):
    key: str
    versionId: str | None = None  # noqa: N815 - S3's field name
    eTag: str | None = None  # noqa: N815


class S3Entity(BaseModel):
    bucket: S3Bucket
    object: S3Object


class S3NotificationRecord(BaseModel):
    eventName: str  # noqa: N815
    s3: S3Entity


class S3EventNotification(BaseModel):
    Records: list[S3NotificationRecord]  # noqa: N815


def object_refs(body: str) -> list[ObjectRef]:
    """Objects named by one SQS body; `s3:TestEvent` (sent when notifications are set up) names none.

    Raises ValueError (not JSON) or pydantic's ValidationError (not an S3 notification).
    """
    payload = json.loads(body)
    if payload.get("Event") == "s3:TestEvent" or "Records" not in payload:
        return []
    event = parse(event=payload, model=S3EventNotification)
    return [ObjectRef(r.s3.bucket.name, unquote_plus(r.s3.object.key), r.s3.object.versionId, r.s3.object.eTag)
            for r in event.Records if r.eventName.startswith("ObjectCreated")]

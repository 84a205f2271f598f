"""Parser model of the S3 event notification inside an SQS body, trimmed to what ingest reads.

Powertools' `S3Model` requires every field real S3 sends (userIdentity, requestParameters,
...); stand-ins such as moto omit some. This model keeps the fields the ingest needs, so the
same code parses notifications from AWS and from local mode.
"""

from __future__ import annotations

from pydantic import BaseModel


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

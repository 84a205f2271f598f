"""Exception types of the ingest and the one place that tells content errors from infrastructure.

Content errors are deterministic: the same bytes fail the same way on every attempt, so
retrying only delays the outcome and dead-letters the object. They end the object
`rejected` (whole-object reason) instead. Only infrastructure errors (the database, S3 and
other AWS APIs, the network, throttling, the local disk) are retried by SQS.

Example:
    >>> content_rejection(ObjectRejected("not_utf8")).reason
    'not_utf8'
    >>> content_rejection(ConnectionResetError()) is None
    True
"""

from __future__ import annotations

import psycopg
from botocore.exceptions import BotoCoreError, ClientError


class IngestError(Exception):
    """Base class of every error raised on purpose by the ingest."""


class ContentError(IngestError):
    """The object's content, not the infrastructure, is at fault: never retried."""


class ObjectRejected(ContentError):
    """The whole object is unusable: `reason` is a key of `lake.contract.OBJECT_REASONS`.

    `detail` says more (a limit, an exception class) and is recorded in the ledger's
    `error_detail`; it must never quote the content (PHI).
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigurationError(IngestError):
    """A required environment variable or secret is missing or malformed."""


class ObjectFailed(IngestError):
    """An attempt failed on infrastructure: the message is retried, then dead-lettered.

    Carries only the key and the exception class: database and parser messages can quote row
    content, which must never reach the logs.
    """


# Errors the database raises because of a row's values: the contract should have caught them.
DATABASE_CONTENT_ERRORS = (psycopg.IntegrityError, psycopg.DataError)
# Everything else that means "the world outside failed; try again later".
_INFRASTRUCTURE = (psycopg.Error, BotoCoreError, ClientError, OSError, ConfigurationError)


def is_infrastructure(exc: BaseException) -> bool:
    """True when `exc` is a database, AWS API, network, throttling or disk error (retry it)."""
    return isinstance(exc, _INFRASTRUCTURE) and not isinstance(exc, DATABASE_CONTENT_ERRORS)


def content_rejection(exc: BaseException) -> ObjectRejected | None:
    """The whole-object rejection a content error stands for; None for infrastructure errors.

    A rejection is returned as is; a database refusal of a value is `database_rule`; any other
    error raised while reading the object (a parser's, or a bug the bytes trigger) is
    `unreadable`. Either way the same bytes would fail again, so the object ends `rejected`
    and the exception class is kept as the detail (never its message: it can quote values).
    """
    if isinstance(exc, ObjectRejected):
        return exc
    if isinstance(exc, DATABASE_CONTENT_ERRORS):
        return ObjectRejected("database_rule", type(exc).__name__)
    if is_infrastructure(exc) or not isinstance(exc, Exception):
        return None
    return ObjectRejected("unreadable", type(exc).__name__)

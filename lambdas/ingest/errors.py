"""Exception types of the ingest, so callers catch what they mean."""

from __future__ import annotations


class IngestError(Exception):
    """Base class of every error raised on purpose by the ingest."""


class ObjectRejected(IngestError):
    """The whole object is unusable (a reason of `lake.contract.OBJECT_REASONS`); never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigurationError(IngestError):
    """A required environment variable or secret is missing or malformed."""


class ObjectFailed(IngestError):
    """An attempt failed (transiently or not): the message is retried, then dead-lettered.

    Carries only the key and the exception class: database and parser messages can quote row
    content, which must never reach the logs.
    """

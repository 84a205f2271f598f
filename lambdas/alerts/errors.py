"""The alert path's own exceptions, so callers catch what they mean."""

from __future__ import annotations


class AlertsError(RuntimeError):
    """Base class of the alert path's failures."""


class AlertsConfigError(AlertsError):
    """A required environment variable is missing or invalid."""


class PublishError(AlertsError):
    """EventBridge or SNS refused some alerts; they stay in the outbox and are retried."""

"""Exceptions of local mode, so the CLI can turn each into a clear message and exit code."""

from __future__ import annotations


class LocalModeError(RuntimeError):
    """Base class: something local mode cannot do, with a message that says how to fix it."""


class StackError(LocalModeError):
    """The local stack (moto server, PostgreSQL, resources) could not start or answer."""


class SparkUnavailable(LocalModeError):
    """Java or PySpark is missing, so the Glue job cannot run in Spark local mode."""


class InputError(LocalModeError):
    """The user's input (folder, workdir, SQL) is not usable."""

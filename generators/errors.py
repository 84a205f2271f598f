"""Errors the generators raise for bad input; the CLI prints them without a traceback."""

from __future__ import annotations


class GeneratorError(Exception):
    """Invalid options or an output folder that cannot be written."""

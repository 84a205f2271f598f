"""Load the real ingest Lambda handler with its environment pointed at the local stack."""

from __future__ import annotations

import importlib
import os

from local.errors import MissingComponent
from local.worker import Handler

HANDLER_MODULE = "lambdas.ingest.handler"


def load_ingest_handler(env: dict[str, str]) -> Handler:
    """Set the Lambda environment (before import: handlers build clients at import) and import it."""
    os.environ.update(env)
    try:
        module = importlib.import_module(HANDLER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and HANDLER_MODULE.startswith(exc.name):
            raise MissingComponent(
                f"the ingest Lambda ({HANDLER_MODULE.replace('.', '/')}.py) is not in this checkout"
            ) from exc
        raise
    return module.handler  # type: ignore[no-any-return]

"""Load the real ingest Lambda handler with its environment pointed at the local stack.

What the function prints (Powertools' JSON logs and EMF metrics, which CloudWatch would
collect) goes to a log file in the workdir instead of the terminal.
"""

from __future__ import annotations

import importlib
import os
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from local.runtime.queue_worker import Handler

HANDLER_MODULE = "lambdas.ingest.handler"


def load_ingest_handler(env: dict[str, str], log_file: Path) -> Handler:
    """Set the Lambda environment (before import: handlers build clients at import) and import it."""
    os.environ.update(env)
    log = log_file.open("a", buffering=1)
    with redirect_stdout(log):  # Powertools' Logger binds to sys.stdout when it is created
        module = importlib.import_module(HANDLER_MODULE)

    def invoke(event: dict[str, Any], context: Any) -> Any:
        with redirect_stdout(log):
            return module.handler(event, context)

    return invoke

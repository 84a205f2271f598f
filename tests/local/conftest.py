"""Fixtures for local mode: a started LocalStack (moto server + the session's PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack.local_stack import LocalStack
from local.workdir import Workdir


@pytest.fixture
def stack(tmp_path: Path, empty_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """A running local stack on a fresh workdir; its database is a fresh one on the test server."""
    monkeypatch.setenv("DATABASE_URL", empty_db)
    local_stack = LocalStack(Workdir.at(tmp_path / "work")).start()
    try:
        yield local_stack
    finally:
        local_stack.stop()

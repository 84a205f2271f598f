"""The API over real engines: the session's PostgreSQL (a fresh migrated database per test module
, as `lake_api`) and the local DuckDB engine over hand-written lake tables (tests/api/fixture.py).

`api` is the app in-process (Starlette's TestClient); `tokens` signs tokens with the module's key
the way `lake token` does.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import ApiContext, create_app
from api.auth import local_tokens
from api.engines import PostgresEngine
from api.principal import Principal
from api.tokens import issue
from lake.contract import LAKE_TABLES
from lake.db_roles import API, MIGRATOR
from lambdas.migrate.migrations import apply_migrations
from lambdas.migrate.roles import ensure_roles, prepare_database, role_url
from local.analytics.duckdb_engine import open_engine
from local.api_server import DuckDbEngine, materialize
from tests.api import fixture

TokenFactory = Callable[..., str]


@pytest.fixture(scope="module")
def lake_db(postgres_server: str, role_passwords: dict[str, str]) -> Iterator[str]:
    """Administrator URL of a migrated database holding the fixture (one per test module)."""
    name = f"api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        ensure_roles(conn, role_passwords)
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{postgres_server.rpartition('/')[0]}/{name}"
    with psycopg.connect(url) as conn:
        prepare_database(conn)
    with psycopg.connect(role_url(url, MIGRATOR, role_passwords[MIGRATOR.name])) as conn:
        apply_migrations(conn)
    fixture.load_database(url)
    yield url
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def api_url(lake_db: str, role_passwords: dict[str, str]) -> str:
    return role_url(lake_db, API, role_passwords[API.name])


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    fixture.write_lake_tables(root)
    return root


@pytest.fixture(scope="module")
def key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture(scope="module")
def context(api_url: str, lake_root: Path, key: bytes) -> Iterator[ApiContext]:
    def snapshot() -> Any:  # what `lake serve` builds (local/api_server.py local_context)
        con = open_engine(api_url, lake_root, views=False)
        materialize(con, LAKE_TABLES)
        return con

    analytics = DuckDbEngine(snapshot, lambda: 0, poll_seconds=0)
    transactional = PostgresEngine(api_url, max_size=4).open()
    yield ApiContext(transactional, analytics, local_tokens(key))
    transactional.close()
    analytics.close()


@pytest.fixture(scope="module")
def api(context: ApiContext) -> Iterator[TestClient]:
    with TestClient(create_app(context)) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(key: bytes) -> TokenFactory:
    def make(*groups: str, subject: str = "tester", hours: float = 1.0) -> str:
        return issue(key, Principal.from_groups(subject, groups), hours=hours)

    return make


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

"""Shared fixtures: a real PostgreSQL server for the whole session, a fresh database per test.

The server is a throwaway cluster (local/postgres.py) unless DATABASE_URL points at an
existing server; either way every test gets its own database, created and dropped here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lambdas.migrate.migrations import apply_migrations
from local.postgres import EphemeralPostgres, server_url_from_env

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a maintenance database on a running PostgreSQL server."""
    existing = server_url_from_env()
    if existing:
        yield existing
        return
    pg = EphemeralPostgres(tmp_path_factory.mktemp("postgres"))
    pg.start()
    try:
        yield pg.url()
    finally:
        pg.stop()


@pytest.fixture
def empty_db(postgres_server: str) -> Iterator[str]:
    """URL of a brand-new, empty database (dropped after the test)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_db(empty_db: str) -> str:
    """URL of a fresh database with every migration in sql/rds/ applied."""
    with psycopg.connect(empty_db) as conn:
        apply_migrations(conn)
    return empty_db


def allow_connections(server_url: str, db_url: str, allowed: bool) -> None:
    """Stop or restart one database of the test server, as an outage would: refuse new
    connections and, when stopping, cut the open ones."""
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                          " AND pid <> pg_backend_pid()", (name,))

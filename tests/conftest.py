"""Shared fixtures: a real PostgreSQL server for the whole session, a fresh database per test.

The server is a throwaway cluster (local/stack/postgres_server.py: password auth, RDS's log settings) unless
DATABASE_URL points at an existing server; either way every test gets its own database, created
and dropped here. The lake's roles (`lake.db_roles`) exist as in AWS: migrations run as
`lake_migrator`, the ingest connects as `lake_ingest` (`ingest_db`); fixtures hand out the
administrator's URL for assertions.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lake.db_roles import INGEST, MIGRATOR, ROLES
from lambdas.migrate.migrations import apply_migrations
from lambdas.migrate.roles import ensure_roles, prepare_database, role_url
from local.stack.postgres_server import postgres_server as running_postgres

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a maintenance database on a running PostgreSQL server (as its administrator):
    DATABASE_URL's server, or a throwaway cluster."""
    with running_postgres() as url:
        yield url


def create_roles(server_url: str) -> dict[str, str]:
    """The lake's roles on the server, with new random passwords (returned by role name)."""
    passwords = {role.name: secrets.token_urlsafe(24) for role in ROLES}
    with psycopg.connect(server_url, autocommit=True) as conn:
        ensure_roles(conn, passwords)
    return passwords


@pytest.fixture(scope="session")
def role_passwords(postgres_server: str) -> dict[str, str]:
    """The lake's roles, created on the server once per session."""
    return create_roles(postgres_server)


@pytest.fixture
def empty_db(postgres_server: str, role_passwords: dict[str, str]) -> Iterator[str]:
    """URL of a brand-new, empty database (dropped after the test)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        # Roles are cluster-wide and local mode (tests/local) sets its workdir's passwords on them:
        # back to the session's before every test.
        ensure_roles(conn, role_passwords)
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_db(empty_db: str, role_passwords: dict[str, str]) -> str:
    """URL (administrator) of a fresh database prepared for the roles, migrated as lake_migrator."""
    with psycopg.connect(empty_db) as conn:
        prepare_database(conn)
    with psycopg.connect(role_url(empty_db, MIGRATOR, role_passwords[MIGRATOR.name])) as conn:
        apply_migrations(conn)
    return empty_db


@pytest.fixture
def ingest_db(migrated_db: str, role_passwords: dict[str, str]) -> str:
    """The same database as `migrated_db`, as the ingest's role (what the ingest gets in AWS)."""
    return role_url(migrated_db, INGEST, role_passwords[INGEST.name])


def allow_connections(server_url: str, db_url: str, allowed: bool) -> None:
    """Stop or restart one database of the test server, as an outage would: refuse new
    connections and, when stopping, cut the open ones."""
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                          " AND pid <> pg_backend_pid()", (name,))

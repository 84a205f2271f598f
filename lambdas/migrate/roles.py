"""Create the lake's database roles (`lake.db_roles`) and hand the schema to the migrator.

Runs as an administrator (the RDS master user, local mode's superuser) before the migrations,
which then run as `lake_migrator`. Idempotent: a role that exists gets its attributes, password
and timeouts set again, so the secret in Secrets Manager (or the workdir) stays the truth.

Passwords reach the server only as SCRAM-SHA-256 verifiers (RFC 5802/7677, the format
PostgreSQL stores), never as plain text a statement log or an audit log could keep.

Example:
    >>> with psycopg.connect(admin_url) as conn:
    ...     bootstrap(conn, {"lake_ingest": "...", "lake_migrator": "...", "lake_reader": "..."})
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from lake.db_roles import MIGRATOR, ROLES, DbRole

SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations


class RoleSetupError(RuntimeError):
    """The connecting user may not create roles, or a password is missing."""


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` for `password` (ASCII secrets:
    SASLprep leaves them unchanged)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


def role_url(url: str, role: DbRole, password: str) -> str:
    """`url` (a libpq URL) with the role's name and password instead of its credentials."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(role.name, safe='')}:{quote(password, safe='')}@{host}"))


def _ensure_role(conn: psycopg.Connection, role: DbRole, password: str) -> None:
    name = sql.Identifier(role.name)
    conn.execute(sql.SQL(
        "DO $$ BEGIN CREATE ROLE {} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$").format(name))
    conn.execute(sql.SQL("ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                         " NOBYPASSRLS PASSWORD {}").format(name, sql.Literal(scram_verifier(password))))
    for setting, value in role.settings.items():
        conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(name, sql.Identifier(setting), sql.Literal(value)))


def ensure_roles(conn: psycopg.Connection, passwords: Mapping[str, str]) -> None:
    """Create or update every role of `lake.db_roles` (cluster-wide objects)."""
    missing = [r.name for r in ROLES if not passwords.get(r.name)]
    if missing:
        raise RoleSetupError(f"no password for {', '.join(missing)}")
    can = conn.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone()
    if not can or not can[0]:
        raise RoleSetupError("the administrator connection may not create roles (needs CREATEROLE)")
    for role in ROLES:
        _ensure_role(conn, role, passwords[role.name])


def prepare_database(conn: psycopg.Connection) -> None:
    """In the current database: only the lake's roles may connect; the migrator owns the schema
    objects (including those an older version created as the administrator)."""
    db = sql.Identifier(conn.info.dbname)
    me = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not (me and me[0]):  # RDS master: to give objects away it must be able to SET ROLE to the migrator
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(MIGRATOR.name)))
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    for role in ROLES:
        privileges = "CONNECT, CREATE, TEMPORARY" if role is MIGRATOR else "CONNECT, TEMPORARY"
        conn.execute(sql.SQL(f"GRANT {privileges} ON DATABASE {{}} TO {{}}").format(db, sql.Identifier(role.name)))
    conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(MIGRATOR.name)))
    conn.execute(sql.SQL(
        "DO $$ DECLARE obj record; BEGIN"
        " IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'etl' AND nspowner <> {m}::regrole) THEN"
        "   ALTER SCHEMA etl OWNER TO {mi}; END IF;"
        " FOR obj IN SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "   WHERE n.nspname IN ('public', 'etl') AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        "   AND c.relowner <> {m}::regrole LOOP"
        "   EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', obj.nspname, obj.relname, {m});"
        " END LOOP; END $$").format(m=sql.Literal(MIGRATOR.name), mi=sql.Identifier(MIGRATOR.name)))
    if conn.execute("SELECT 'pgaudit' = ANY (string_to_array(replace(current_setting("
                    "'shared_preload_libraries'), ' ', ''), ','))").fetchone() == (True,):
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgaudit")


def bootstrap(conn: psycopg.Connection, passwords: Mapping[str, str]) -> None:
    """`ensure_roles` + `prepare_database`, in one transaction."""
    with conn.transaction():
        ensure_roles(conn, passwords)
        prepare_database(conn)

"""Apply the ordered SQL migrations in `sql/rds/` exactly once each.

Used by the deploy-time custom resource, by local mode at start and by the tests, so the
schema a test sees is the schema that deploys. Each file runs in its own transaction and is
recorded in `public.schema_migrations`; a second run applies nothing. An advisory lock keeps
two concurrent runners (two deploys, or a deploy and `lake up`) from interleaving.

Example:
    >>> with psycopg.connect(url) as conn:
    ...     applied = apply_migrations(conn)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import psycopg

DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "rds"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_ID = 0x5A4C414B  # arbitrary, constant: "surgical-lake migrations"


class MigrationError(RuntimeError):
    """A migration file is misnamed, was edited after being applied, or failed."""


def migration_files(sql_dir: Path = DEFAULT_SQL_DIR) -> list[Path]:
    files = sorted(p for p in sql_dir.glob("*.sql"))
    for path in files:
        if not _MIGRATION_NAME.match(path.name):
            raise MigrationError(f"{path.name}: migrations are named NNN_lower_snake.sql")
    return files


def apply_migrations(conn: psycopg.Connection, sql_dir: Path = DEFAULT_SQL_DIR) -> list[str]:
    """Apply pending migrations in name order; return the names applied now."""
    files = migration_files(sql_dir)
    conn.autocommit = False
    with conn.transaction():
        conn.execute(
            "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
            " name text PRIMARY KEY, sha256 text NOT NULL,"
            " applied_at timestamp with time zone NOT NULL DEFAULT now())"
        )
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        done: dict[str, str] = dict(conn.execute("SELECT name, sha256 FROM public.schema_migrations").fetchall())
        for path in files:
            sql = path.read_text()
            digest = hashlib.sha256(sql.encode()).hexdigest()
            if path.name in done:
                if done[path.name] != digest:
                    raise MigrationError(
                        f"{path.name} changed after it was applied; add a new migration instead"
                    )
                continue
            try:
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "INSERT INTO public.schema_migrations (name, sha256) VALUES (%s, %s)",
                        (path.name, digest),
                    )
            except psycopg.Error as exc:
                # The primary message and SQLSTATE only: DETAIL/CONTEXT can quote a failing row's values
                # (e.g. a new CHECK over existing rows), and this text reaches CloudFormation and the logs.
                raise MigrationError(f"{path.name} failed: [{exc.sqlstate}] {exc.diag.message_primary}") from None
            applied.append(path.name)
    return applied

"""The workdir's PostgreSQL: a throwaway cluster in the workdir, or `DATABASE_URL`.

The same roles as in AWS (`lake.db_roles`): at every start the administrator (the cluster's
superuser, or DATABASE_URL's user, which needs CREATEROLE) creates or updates them with the
workdir's passwords; migrations then run as `lake_migrator` (a no-op when nothing is pending,
so a workdir made by an older version picks up new ones), and the ingest connects as
`lake_ingest` (`ingest_url`).
"""

from __future__ import annotations

import psycopg

from lake.db_roles import ALERTS, INGEST, MIGRATOR
from lambdas.migrate.migrations import MigrationError, apply_migrations
from lambdas.migrate.roles import RoleSetupError, bootstrap, role_url
from local.exceptions import StackError
from local.stack.postgres_server import EphemeralPostgres, PostgresUnavailable, open_server
from local.workdir import Workdir

DATABASE_NAME = "lake"


class LocalDatabase:
    """Start (or reuse) the server, create the `lake` database, apply migrations."""

    def __init__(self, workdir: Workdir) -> None:
        self.workdir = workdir
        self._pg: EphemeralPostgres | None = None
        self.url = ""  # the administrator's (local tools: status, reports)
        self.ingest_url = ""  # lake_ingest's: what the ingest handler gets as DATABASE_URL
        self.alerts_url = ""  # lake_alerts': what the alerts function connects as

    def start(self) -> LocalDatabase:
        try:
            url, self._pg = open_server(self.workdir.postgres_dir)
            self.url = self._pg.create_database(DATABASE_NAME) if self._pg else url
            passwords = self.workdir.db_role_passwords()
            with psycopg.connect(self.url) as conn:
                bootstrap(conn, passwords)
            with psycopg.connect(role_url(self.url, MIGRATOR, passwords[MIGRATOR.name])) as conn:
                apply_migrations(conn)
            self.ingest_url = role_url(self.url, INGEST, passwords[INGEST.name])
            self.alerts_url = role_url(self.url, ALERTS, passwords[ALERTS.name])
        except PostgresUnavailable as exc:
            self.stop()
            raise StackError(str(exc)) from exc
        except RoleSetupError as exc:
            self.stop()
            raise StackError(f"PostgreSQL at {redact(self.url)}: cannot set up the lake's roles: {exc}") from exc
        except (psycopg.OperationalError, MigrationError) as exc:
            self.stop()
            raise StackError(f"PostgreSQL at {redact(self.url)}: {exc}") from exc
        return self

    def stop(self) -> None:
        if self._pg is not None:
            self._pg.stop()
            self._pg = None

    def __enter__(self) -> LocalDatabase:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def redact(url: str) -> str:
    """A URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"

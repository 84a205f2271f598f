"""`lake serve`: the API over a workdir's PostgreSQL and the local analytics engine (DuckDB).

The same `create_app` as in AWS, with local engines:
- transactional: the workdir's PostgreSQL as `lake_api` (pooled);
- analytics: DuckDB (`local/analytics/duckdb_engine.py`) over a snapshot of the RDS tables and the
  processed bucket's mirror. A background thread watches the data's version (ledger row count
  and last change, and the bucket mirror's index, which `lake up` rewrites after each rollup)
  every `poll_seconds` and swaps in a fresh snapshot when it moved: requests keep running on
  the previous one while the new one builds (~1 s at default scale).
Tokens are the workdir's (`lake token`); every request is access-logged as a JSON line to
`state/api-access.log` (who, endpoint, status, rows, ms; never row content).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.app import ACCESS_LOG, ApiContext, create_app
from api.auth import local_tokens
from api.engines import BadValue, EngineUnavailable, PostgresEngine, Rows
from api.queries import Statement
from api.tokens import signing_key
from api.web_static import mount_dashboard
from lake.contract import LAKE_TABLES
from lake.db_roles import API
from local.exceptions import InputError
from local.workdir import Workdir

DEFAULT_PORT = 8765
HOST = "127.0.0.1"
ACCESS_LOG_FILE = "api-access.log"
log = logging.getLogger("lake.api.local")


class DuckDbEngine:
    """The local analytics engine, refreshed in the background when the data changes."""

    name = "duckdb"

    def __init__(self, open_connection: Callable[[], Any], version: Callable[[], object],
                 poll_seconds: float = 2.0) -> None:
        self._open = open_connection
        self._version = version
        self._seen = version()
        self._con = open_connection()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.refreshes = 0
        self._thread: threading.Thread | None = None
        if poll_seconds > 0:
            self._thread = threading.Thread(target=self._watch, args=(poll_seconds,), name="duckdb-refresh",
                                            daemon=True)
            self._thread.start()

    def refresh_if_changed(self) -> bool:
        """Rebuild the snapshot when the data's version moved; True when it did."""
        with self._lock:
            current = self._version()
            if current == self._seen:
                return False
            self._con = self._open()  # the old connection stays valid for queries still using it
            self._seen = current
            self.refreshes += 1
            return True

    def _watch(self, poll_seconds: float) -> None:
        while not self._stop.wait(poll_seconds):
            try:
                self.refresh_if_changed()
            except Exception as exc:  # keep serving the last snapshot; say why once per failure
                log.warning("analytics snapshot refresh failed: %s", type(exc).__name__)

    def run(self, statement: Statement) -> Rows:
        import duckdb

        cur = self._con.cursor()
        try:
            result = cur.execute(statement.tree.sql(dialect="duckdb"), statement.params)
            columns = [d[0] for d in result.description or ()]
            return columns, result.fetchall()
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            raise BadValue(type(exc).__name__) from exc
        except duckdb.Error as exc:
            raise EngineUnavailable(f"DuckDB: {type(exc).__name__}") from exc
        finally:
            cur.close()

    def ping(self) -> None:
        cur = self._con.cursor()
        try:
            cur.execute("SELECT 1").fetchall()
        finally:
            cur.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def materialize(con: Any, tables: Any) -> None:
    """Copy the derived lake tables (hourly rollups, anomalies: thousands of rows, in a few hundred
    date partitions) into the snapshot: a query then reads memory instead of opening every
    partition's Parquet file (205 -> ~10 ms for a robot's hourly page at default scale). The raw
    telemetry stays a view over the files: only `v_orphan_telemetry` reads it."""
    for name in tables:
        kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'lake'"
                           " AND table_name = ?", [name]).fetchone()
        if kind is None or kind[0] != "VIEW":  # missing, or already a table (no files yet: an empty one)
            continue
        con.execute(f'CREATE TABLE lake."_{name}" AS SELECT * FROM lake."{name}"')
        con.execute(f'DROP VIEW lake."{name}"')
        con.execute(f'ALTER TABLE lake."_{name}" RENAME TO "{name}"')


def api_role_url(admin_url: str, workdir: Workdir) -> str:
    from lambdas.migrate.roles import role_url

    return role_url(admin_url, API, workdir.db_role_passwords()[API.name])


def data_version(api_url: str, index_file: Path) -> Callable[[], object]:
    """What says "the data changed": the ledger's row count and last change, the mirror index."""
    def version() -> object:
        import psycopg

        with psycopg.connect(api_url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*), max(greatest(first_seen_at, started_at, finished_at))"
                               " FROM etl.ingest_ledger").fetchone()
        mtime = index_file.stat().st_mtime_ns if index_file.exists() else 0
        return (row, mtime)

    return version


def local_context(workdir: Workdir, admin_url: str, poll_seconds: float = 2.0, pool_size: int = 10,
                  cors_origins: tuple[str, ...] = ()) -> ApiContext:
    """Engines and authentication for a workdir (its PostgreSQL must be running)."""
    from local.analytics.duckdb_engine import open_engine
    from local.analytics.workdir_engine import _names, apply_as_of_pin, lake_root

    url = api_role_url(admin_url, workdir)
    glue_database = _names().glue_database

    def open_snapshot() -> Any:
        con = open_engine(url, lake_root(workdir), glue_database=glue_database, views=False)
        materialize(con, LAKE_TABLES)
        apply_as_of_pin(con, workdir)  # "now" of the views: the demo's workdir pins it to its data
        return con

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # the migrations' DO blocks parse as commands: fine
    analytics = DuckDbEngine(open_snapshot, data_version(url, workdir.s3_index_file), poll_seconds)
    transactional = PostgresEngine(url, max_size=pool_size).open()
    access = logging.getLogger(ACCESS_LOG)
    if not any(getattr(h, "baseFilename", None) == str(workdir.state_dir / ACCESS_LOG_FILE) for h in access.handlers):
        handler = logging.FileHandler(workdir.state_dir / ACCESS_LOG_FILE)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
    return ApiContext(transactional, analytics, local_tokens(signing_key(workdir.state_dir)),
                      cors_origins=cors_origins, access_log=access)


def check_port(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise InputError(f"port {port} on {HOST} is in use ({exc.strerror}): pass --port") from exc


@contextmanager
def running(workdir: Workdir, admin_url: str, port: int, **options: Any) -> Iterator[str]:
    """Serve in a background thread (for `lake up` and the tests); yields the base URL."""
    import uvicorn

    check_port(port)
    ctx = local_context(workdir, admin_url, **options)
    app = create_app(ctx)
    mount_dashboard(app)
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="lake-api", daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.05)
        if not server.started:
            raise InputError(f"the API server did not start on {HOST}:{port}")
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ctx.transactional.close()
        ctx.analytics.close()


def banner(url: str, workdir: Workdir) -> str:
    return "\n".join([
        f"dashboard: {url}/  (sign in with a token from `lake token`, or start with --open)",
        f"API: {url}/v1  (docs {url}/v1/docs, spec {url}/v1/openapi.json, health {url}/v1/health)",
        f"  token:  TOKEN=$(lake token --workdir {workdir.root} --admin)   (or --facility FAC-003 [--phi])",
        f"  try:    curl -H \"Authorization: Bearer $TOKEN\" {url}/v1/robots",
        f"  access log: {workdir.state_dir / ACCESS_LOG_FILE}",
    ])


def signed_in_url(url: str, workdir: Workdir) -> str:
    """The dashboard's URL carrying an admin token for the workdir's owner (12 h) in the fragment,
    which browsers never send to a server; the app keeps it and clears the address bar."""
    from api.principal import ADMIN_GROUP, Principal
    from api.tokens import issue

    token = issue(signing_key(workdir.state_dir), Principal.from_groups("local-user", [ADMIN_GROUP]))
    return f"{url}/#token={token}"


def cmd_serve(workdir: Workdir, port: int, cors_origins: tuple[str, ...] = (), open_browser: bool = False) -> int:
    import signal
    import webbrowser

    from local.analytics.workdir_engine import database_url

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill stops the database as cleanly as Ctrl-C
    with database_url(workdir) as admin_url, running(workdir, admin_url, port, cors_origins=cors_origins) as url:
        print(banner(url, workdir), flush=True)
        if open_browser and not webbrowser.open(signed_in_url(url, workdir)):
            print("could not start a browser: open the dashboard and sign in with `lake token --admin`", flush=True)
        print("serving until Ctrl-C", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping the API", flush=True)
    return 0

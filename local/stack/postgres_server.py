"""A throwaway real PostgreSQL server for local mode and the tests.

`initdb` refuses to run as root, so when we are root the server (only the server) runs as the
unprivileged `postgres` user (`runuser`); it listens on 127.0.0.1 on a free port. Every
connection, TCP or socket, authenticates with a password (scram-sha-256, never trust): the
superuser's is generated at initdb and kept owner-only (0600) in `superuser.password` beside
the data directory (a cluster made by an older version with trust is switched over at start).
The server logs like RDS's parameter group says (`SERVER_LOG_SETTINGS`): terse errors and no
failing statement text, so a row's values never reach the log. The data directory lives under
the caller's workdir, so a workdir keeps its database between `lake run`s. Set `DATABASE_URL`
to use an existing server instead: `open_server` (local mode) and `postgres_server` (the test
session, the benchmarks) are the one place that rule is applied.

Example:
    >>> with EphemeralPostgres(Path("/tmp/pg")) as pg:
    ...     pg.create_database("lake")
    ...     url = pg.url("lake")
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

_SERVER_USER = "postgres"
_PASSWORD_FILE = "superuser.password"
# The logging the RDS parameter group sets (infra/database.py): a failing statement's text and
# its DETAIL ("Failing row contains (...)") carry row values, PHI-derived ones included.
SERVER_LOG_SETTINGS = {"log_error_verbosity": "terse", "log_min_error_statement": "panic"}
_BIN_HINTS = ("/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/local/bin")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries found, or the server did not start."""


def find_pg_bin() -> Path:
    """Directory holding initdb/pg_ctl: $PG_BIN, PATH, then Debian's versioned folders."""
    candidates = [os.environ.get("PG_BIN", "")]
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    candidates.extend(_BIN_HINTS)
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    raise PostgresUnavailable(
        "PostgreSQL 15+ server binaries (initdb, pg_ctl) not found. Install them "
        "(Debian/Ubuntu: apt-get install postgresql), set PG_BIN to their folder, "
        "or set DATABASE_URL to an existing server."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_url_from_env() -> str | None:
    """`DATABASE_URL` when the user points us at an existing server."""
    return os.environ.get("DATABASE_URL") or None


@dataclass
class EphemeralPostgres:
    """initdb + pg_ctl in `base_dir`; reuses an existing cluster there."""

    base_dir: Path
    port: int = 0

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir).resolve()
        self.data_dir = self.base_dir / "pgdata"
        self.log_file = self.base_dir / "postgres.log"
        self._as_root = os.geteuid() == 0
        self._bin = find_pg_bin()

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", _SERVER_USER, "--", *cmd]
        return subprocess.run(cmd, check=False, capture_output=True, text=True)

    def _prepare_dirs(self) -> None:
        self.base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o700)
        if self._as_root:
            pw = pwd.getpwnam(_SERVER_USER)
            os.chown(self.base_dir, pw.pw_uid, pw.pw_gid)
            self._grant_traversal()

    def _grant_traversal(self) -> None:
        """Let the server user reach base_dir through its parents (again before each pg_ctl
        call: a pytest session resets its temp root to 0700 under a running cluster)."""
        for parent in self.base_dir.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)

    @property
    def password_file(self) -> Path:
        return self.base_dir / _PASSWORD_FILE

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    def _write_owner_only(self, path: Path, text: str, owner: pwd.struct_passwd | None = None) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(path, 0o600)
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _initdb(self) -> None:
        """A new cluster whose superuser has a random password; scram-sha-256 for every connection."""
        password = secrets.token_urlsafe(32)
        self._write_owner_only(self.password_file, password)
        pwfile = self.base_dir / "initdb.pw"  # readable by the server user for initdb only
        self._write_owner_only(pwfile, password + "\n", pwd.getpwnam(_SERVER_USER) if self._as_root else None)
        try:
            res = self._run(
                str(self._bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres", f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {res.stderr.strip()}")

    def _upgrade_trust(self) -> None:
        """A cluster an older version made with trust auth: set a password, then require it."""
        import psycopg
        import psycopg.sql

        if self.password_file.exists():
            return
        from lambdas.migrate.roles import scram_verifier

        password = secrets.token_urlsafe(32)
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("ALTER ROLE postgres PASSWORD {}").format(
                psycopg.sql.Literal(scram_verifier(password))))
            (hba,) = conn.execute("SELECT current_setting('hba_file')").fetchone() or ("",)
        self._write_owner_only(self.password_file, password)
        self._rewrite_hba(Path(hba))
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "reload")

    def _rewrite_hba(self, hba: Path) -> None:
        text = re.sub(r"\btrust\b", "scram-sha-256", hba.read_text())
        tmp = self.base_dir / "pg_hba.conf.new"
        self._write_owner_only(tmp, text, pwd.getpwnam(_SERVER_USER) if self._as_root else None)
        self._run("cp", str(tmp), str(hba))
        tmp.unlink()

    def start(self) -> EphemeralPostgres:
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self.port:
            self.port = free_port()
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.base_dir}'"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=100 -c shared_buffers=128MB -c timezone=UTC"
            " -c password_encryption=scram-sha-256"
            + "".join(f" -c {name}={value}" for name, value in SERVER_LOG_SETTINGS.items())
        )
        res = self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-o", opts, "-w", "-t", "60", "start",
        )
        if res.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {res.stderr.strip()}\n{tail}")
        self._wait_ready()
        self._upgrade_trust()
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise PostgresUnavailable(f"PostgreSQL did not accept connections on port {self.port}")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            if self._as_root:
                self._grant_traversal()
            self._run(str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        """The superuser's URL (with its password: keep it out of messages, see `redact`)."""
        return f"postgresql://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        """Create `dbname` if missing; return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def __enter__(self) -> EphemeralPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_server(cluster_dir: Path) -> tuple[str, EphemeralPostgres | None]:
    """(administrator URL of the `postgres` database, the cluster to stop or None): `DATABASE_URL`'s
    server when set, else a throwaway cluster in `cluster_dir`, started (reused when one is there).
    Raises PostgresUnavailable when the binaries are missing or the server does not start."""
    existing = server_url_from_env()
    if existing:
        return existing, None
    pg = EphemeralPostgres(cluster_dir).start()
    return pg.url(), pg


@contextmanager
def postgres_server() -> Iterator[str]:
    """`open_server` for the length of a `with` (tests, benchmarks): a throwaway cluster lives in
    a fresh temporary folder and is stopped and removed on exit."""
    with _temporary_folder() as folder:
        url, pg = open_server(folder / "cluster")
        try:
            yield url
        finally:
            if pg is not None:
                pg.stop()


@contextmanager
def throwaway_cluster() -> Iterator[EphemeralPostgres]:
    """A started cluster of its own, whatever `DATABASE_URL` says (e.g. to read its server log)."""
    with _temporary_folder() as folder, EphemeralPostgres(folder / "cluster") as pg:
        yield pg


@contextmanager
def _temporary_folder() -> Iterator[Path]:
    # Outside pytest's temp root on purpose: every pytest session (another checkout's, or an
    # xdist worker starting late) resets that root to 0700, which would lock the server user out
    # of a running cluster's files.
    with tempfile.TemporaryDirectory(prefix="surgical-lake-pg-", ignore_cleanup_errors=True) as folder:
        yield Path(folder)

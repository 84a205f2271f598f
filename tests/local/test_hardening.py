"""Local mode keeps PHI and keys owner-only and its PostgreSQL asks everyone for a password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from lake.db_roles import INGEST, MIGRATOR, ROLES
from local.stack.postgres_server import EphemeralPostgres
from local.stack.workdir_database import LocalDatabase, redact
from local.workdir import Workdir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _others_may_only_traverse(path: Path) -> bool:
    """No read/write for group or others; a bare x (traverse) only where the server user needs it."""
    mode = _mode(path)
    return mode & 0o066 == 0 and (mode & 0o011 == 0 or (path.is_dir() and os.geteuid() == 0))


def test_workdir_state_is_owner_only_and_an_old_one_is_tightened(tmp_path: Path) -> None:
    # GIVEN a workdir an older version left world-readable
    old = tmp_path / "work"
    (old / "state").mkdir(parents=True)
    (old / "state" / "hmac.key").write_text("0" * 64)
    os.chmod(old, 0o755)
    os.chmod(old / "state", 0o755)
    os.chmod(old / "state" / "hmac.key", 0o644)
    # WHEN local mode opens it and writes its state
    work = Workdir.at(old)
    work.db_role_passwords()
    work.write_json(work.stack_file, {"database_url": "postgresql://x:secret@h/db"})
    work.append_run({"run": 1})
    (work.bucket_dir("b") / "k").mkdir(parents=True)
    (work.bucket_dir("b") / "k" / "rows.ndjson").write_text("{}\n")  # as the bucket mirror writes
    # THEN every folder is 0700 and every file 0600
    for path in (work.root, work.state_dir, work.s3_dir, work.bucket_dir("b")):
        assert _mode(path) == 0o700, path
    for path in (work.state_dir / "hmac.key", work.state_dir / "db-roles.json", work.stack_file, work.runs_file,
                 work.bucket_dir("b") / "k" / "rows.ndjson"):
        assert _mode(path) == 0o600, path
    assert set(work.db_role_passwords()) == {r.name for r in ROLES} == {
        "lake_ingest", "lake_migrator", "lake_reader", "lake_api", "lake_alerts"}


def test_postgres_refuses_connections_without_the_password(tmp_path: Path) -> None:
    # GIVEN a fresh throwaway cluster
    with EphemeralPostgres(tmp_path / "pg") as pg:
        url_without = f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
        # THEN TCP and socket connections without a password, or with a wrong one, are refused
        for conninfo in (url_without, f"postgresql://postgres:wrong@127.0.0.1:{pg.port}/postgres",
                         f"host={pg.base_dir} port={pg.port} user=postgres dbname=postgres"):
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(conninfo, connect_timeout=5).close()
        # AND the password works, stored as a SCRAM verifier; pg_hba trusts nobody
        with psycopg.connect(pg.url()) as conn:
            hba = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
            stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'").fetchone()
        assert hba == [("scram-sha-256",)]
        assert stored is not None and stored[0].startswith("SCRAM-SHA-256$")
        # AND the password file, the cluster folder and the data directory are owner-only
        assert _mode(pg.password_file) == 0o600
        assert _mode(pg.base_dir) == 0o700 and _mode(pg.data_dir) == 0o700


def test_a_trust_cluster_from_an_older_version_is_switched_to_passwords(tmp_path: Path) -> None:
    # GIVEN a cluster as an older version left it: trust in pg_hba.conf and no password file
    pg = EphemeralPostgres(tmp_path / "pg")
    pg.start()
    pg.stop()
    hba = pg.data_dir / "pg_hba.conf"
    pg._run("sed", "-i", "s/scram-sha-256/trust/g", str(hba))
    pg.password_file.unlink()
    # WHEN local mode starts it again
    pg.port = 0
    with pg:
        # THEN it has a password now, and a connection without it is refused
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", connect_timeout=5).close()
        with psycopg.connect(pg.url()) as conn:
            assert conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall() == [
                ("scram-sha-256",)]


def test_local_database_runs_migrations_as_the_migrator_and_hands_the_ingest_its_role(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a workdir with its own cluster (no DATABASE_URL)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with LocalDatabase(Workdir.at(tmp_path / "work")) as db:
        # THEN the ingest's URL is lake_ingest's, the schema is the migrator's
        with psycopg.connect(db.ingest_url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (INGEST.name,)
            owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'etl'")}
        assert owners == {MIGRATOR.name}
        # AND messages show the administrator's URL without its password
        password = psycopg.conninfo.conninfo_to_dict(db.url)["password"]
        assert isinstance(password, str) and password and password not in redact(db.url)

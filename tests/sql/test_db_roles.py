"""Least privilege in PostgreSQL: each role does its job and nothing else (lake/db_roles.py)."""

from __future__ import annotations

import psycopg
import pytest

from lake.db_roles import ALERTS, INGEST, MIGRATOR, READER, ROLES, DbRole
from lambdas.migrate.roles import role_url, scram_verifier

ROBOT = ("INSERT INTO surgical_robots VALUES ('ROBOT-0001', 'SN-000001', 'm', 'x', 'FAC-001', 'f', '2020-01-01',"
         " '1.2.3', 'active', 'k', now(), now())")


def _one(conn: psycopg.Connection, query: str) -> object:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _as(db: str, role: DbRole, passwords: dict[str, str]) -> psycopg.Connection:
    return psycopg.connect(role_url(db, role, passwords[role.name]), autocommit=True)


def _denied(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
        return True
    return False


def test_ingest_may_upsert_and_keep_its_books_but_not_delete_rows_or_change_the_schema(
        migrated_db: str, role_passwords: dict[str, str]) -> None:
    with _as(migrated_db, INGEST, role_passwords) as conn:
        conn.execute(ROBOT)
        conn.execute("UPDATE surgical_robots SET status = 'retired'")
        conn.execute("CREATE TEMP TABLE s (LIKE surgical_procedures INCLUDING DEFAULTS)")
        conn.execute("DELETE FROM etl.parked_rows")
        assert conn.execute("SELECT count(*) FROM surgical_robots").fetchone() == (1,)
        assert _denied(conn, "DELETE FROM surgical_robots")
        assert _denied(conn, "TRUNCATE etl.ingest_ledger")
        assert _denied(conn, "CREATE TABLE public.x (id int)")
        assert _denied(conn, "ALTER TABLE surgical_robots ADD COLUMN x int")
        assert _denied(conn, "SELECT * FROM public.schema_migrations")
        assert _denied(conn, "CREATE ROLE intruder")


def test_reader_only_reads(migrated_db: str, role_passwords: dict[str, str]) -> None:
    with _as(migrated_db, READER, role_passwords) as conn:
        assert conn.execute("SELECT count(*) FROM surgical_procedures").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM etl.ingest_ledger").fetchone() == (0,)
        assert _denied(conn, ROBOT)
        assert _denied(conn, "CREATE TEMP TABLE t (id int)")  # read-only transactions by default
        conn.execute("SET default_transaction_read_only = off")  # even if it turns that off...
        assert _denied(conn, ROBOT)  # ...it holds no write privilege


def test_alerts_keeps_its_episodes_and_reads_robots_and_procedures_only(
        migrated_db: str, role_passwords: dict[str, str]) -> None:
    with _as(migrated_db, ALERTS, role_passwords) as conn:
        conn.execute("INSERT INTO alert_episodes (alert_id, kind, robot_id, metric, first_hour, last_hour,"
                     " anomalous_hours, peak_z) VALUES ('a', 'anomaly_episode', 'ROBOT-0001', 'torque_nm_avg',"
                     " '2025-01-01', '2025-01-01', 1, 4.2)")
        conn.execute("UPDATE alert_episodes SET published_at = now()")
        assert conn.execute("SELECT count(*) FROM surgical_robots").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM surgical_procedures").fetchone() == (0,)
        assert _denied(conn, "DELETE FROM alert_episodes")
        # AND of procedures only the window columns the export reads, never a patient column
        conn.execute("SELECT procedure_id, robot_id, status, actual_start, actual_end FROM surgical_procedures")
        assert _denied(conn, "SELECT patient_key FROM surgical_procedures")
        assert _denied(conn, "SELECT * FROM surgical_procedures")
        assert _denied(conn, "SELECT * FROM procedure_outcomes")
        assert _denied(conn, "SELECT * FROM etl.ingest_ledger")
        assert _denied(conn, ROBOT)
        assert _denied(conn, "CREATE TABLE public.x (id int)")


def test_migrator_owns_the_schema_but_is_no_administrator(migrated_db: str, role_passwords: dict[str, str]) -> None:
    with _as(migrated_db, MIGRATOR, role_passwords) as conn:
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname IN ('public', 'etl')")}
        conn.execute("ALTER TABLE surgical_robots ADD COLUMN scratch int")
        assert owners == {MIGRATOR.name}
        assert _denied(conn, "CREATE ROLE intruder")
        assert _denied(conn, "ALTER ROLE lake_ingest SET statement_timeout = 0")


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_role_gets_its_timeouts(migrated_db: str, role_passwords: dict[str, str], role: DbRole) -> None:
    # GIVEN a role's session WHEN it asks for its settings THEN the role defaults apply
    with _as(migrated_db, role, role_passwords) as conn:
        got = {name: _one(conn, f"SELECT current_setting('{name}')") for name in role.settings}
    as_ms = {"240s": "4min", "120s": "2min", "300s": "5min", "270s": "270s", "30s": "30s", "60s": "1min",
             "10s": "10s", "on": "on", "25s": "25s", "5s": "5s"}
    assert got == {name: as_ms[value] for name, value in role.settings.items()}
    assert set(INGEST.settings) == {"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"}


def test_other_logins_cannot_connect_to_the_lake_database(migrated_db: str) -> None:
    # GIVEN a login role that is none of the lake's WHEN it connects THEN the database refuses it
    with psycopg.connect(migrated_db, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS stranger")
        admin.execute(f"CREATE ROLE stranger LOGIN PASSWORD '{scram_verifier('stranger-pw')}'")
    try:
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(role_url(migrated_db, DbRole("stranger", ""), "stranger-pw")).close()
    finally:
        with psycopg.connect(migrated_db, autocommit=True) as admin:
            admin.execute("DROP ROLE stranger")


"""A failing load leaves no PHI-derived value in the PostgreSQL server's log.

This module runs on its own throwaway server (local/stack/postgres_server.py, RDS's log settings:
log_error_verbosity=terse, log_min_error_statement=panic) so it can read that server's log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator

import psycopg
import pytest

from local.stack.postgres_server import EphemeralPostgres, throwaway_cluster
from tests.conftest import create_roles
from tests.lambdas.ingest.conftest import HMAC_KEY
from tests.lambdas.ingest.samples import PROC_HEADER, ROBOT_HEADER, csv_file, procedure, robot

MRN = "MRN55501234"


@pytest.fixture(scope="module")
def server() -> Iterator[EphemeralPostgres]:
    with throwaway_cluster() as pg:
        yield pg


@pytest.fixture(scope="module")
def postgres_server(server: EphemeralPostgres) -> str:
    return server.url()


@pytest.fixture(scope="module")
def role_passwords(postgres_server: str) -> dict[str, str]:
    return create_roles(postgres_server)


def test_a_check_violation_in_the_upsert_logs_no_row_values(lake, server, caplog):
    # GIVEN a loaded robot and a CHECK the validator does not know (a schema/contract drift), which
    # the next procedure violates: the upsert fails on the server with "Failing row contains (...)"
    caplog.set_level(logging.DEBUG)
    lake.ingest("surgical_robots/r.csv", csv_file(ROBOT_HEADER, [robot(1)]))
    lake.query_exec("ALTER TABLE surgical_procedures ADD CONSTRAINT forced_fault"
                    " CHECK (patient_age_at_procedure < 50) NOT VALID")
    start = server.log_file.stat().st_size
    # WHEN a 63-year-old's procedure is ingested (born 1961-07-19, ZIP 94110)
    row = procedure(1, mrn=MRN, birth="1961-07-19", zip_="94110")
    response = lake.ingest("surgical_procedures/p.csv", csv_file(PROC_HEADER, [row]))
    log = server.log_file.read_text()[start:]
    # THEN the object is rejected `database_rule` (content: never retried) and the server logged
    # the error, tersely
    assert response == {"batchItemFailures": []}
    [entry] = [r for r in lake.ledger() if r["object_key"] == "surgical_procedures/p.csv"]
    assert (entry["status"], entry["error"], entry["error_detail"]) == ("rejected", "database_rule", "CheckViolation")
    assert 'violates check constraint "forced_fault"' in log
    # AND neither the server log nor the function's log holds the row (its patient_key, MRN), a
    # DETAIL ("Failing row contains (...)") or the statement; the server log not even the object key
    patient_key = hmac.new(HMAC_KEY.encode(), MRN.encode(), hashlib.sha256).hexdigest()
    for text in (log, caplog.text):
        for value in (patient_key, patient_key[:16], MRN, "Failing row", "STATEMENT:", "MERGE INTO"):
            assert value not in text, value
    for value in ("DETAIL", "surgical_procedures/p.csv", "prostatectomy"):
        assert value not in log, value


def test_the_same_fault_with_postgres_default_logging_would_leak(migrated_db, server):
    # GIVEN a session with PostgreSQL's default error logging (what RDS logs without our parameters)
    start = server.log_file.stat().st_size
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute("SET log_error_verbosity = 'default'")  # the level named default, not a reset
        conn.execute("SET log_min_error_statement = error")
        conn.execute("CREATE TABLE leak_probe (patient_key text CHECK (patient_key <> 'k-4815162342'))")
        # WHEN a row fails its CHECK
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO leak_probe VALUES ('k-4815162342')")
    # THEN the value reaches the log twice (DETAIL and STATEMENT): the grep above would catch it
    assert server.log_file.read_text()[start:].count("k-4815162342") >= 2

"""`lake run` when PostgreSQL goes away mid-load: one clear error, then `lake redrive` recovers.

In process (so the outage can start exactly mid-load): the real CLI, a real moto server and the
test server's PostgreSQL through DATABASE_URL, one ingest worker calling the real handler.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from aws_lambda_powertools.utilities import parameters

from cli.main import main
from lambdas.ingest import handler, pipeline
from local.commands import dlq_depth
from local.workdir import Workdir
from tests.conftest import TESTS_DIR, allow_connections

pytestmark = pytest.mark.slow
CASE = TESTS_DIR / "cases" / "02-mac-cr-line-endings" / "input"


def _new_process(environ: dict[str, str] | None = None) -> None:
    """Forget what the handler cached for the previous stack (its clients point at a stopped moto)
    and, given `environ`, the Lambda environment the in-process worker left in os.environ (its
    DATABASE_URL is lake_ingest's, which cannot set up roles)."""
    handler._state.clear()
    parameters.base.DEFAULT_PROVIDERS.clear()
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture
def restored_environment():
    """The in-process worker sets the Lambda's environment in os.environ: put it back."""
    saved = dict(os.environ)
    _new_process()
    yield
    conn = handler._state.get("conn")
    if conn is not None:
        conn.close()
    _new_process(saved)


def test_a_lost_database_is_one_clear_error_and_redrive_recovers(tmp_path, empty_db, postgres_server,
                                                                  monkeypatch, capsys, restored_environment):
    # GIVEN `lake run` of the Mac CSV case, whose database stops while the maintenance file loads
    monkeypatch.setenv("DATABASE_URL", empty_db)
    user_environ = dict(os.environ)
    work = tmp_path / "work"
    real_load = pipeline._load

    def stop_mid_load(deps, conn, obj, uploaded, outcome):
        if obj.ref.key.startswith("robot_maintenance_logs/"):
            allow_connections(postgres_server, empty_db, allowed=False)
        return real_load(deps, conn, obj, uploaded, outcome)

    monkeypatch.setattr(pipeline, "_load", stop_mid_load)
    try:
        # WHEN it runs
        code = main(["run", "--input", str(CASE), "--workdir", str(work), "--workers", "1"])
    finally:
        allow_connections(postgres_server, empty_db, allowed=True)
        monkeypatch.setattr(pipeline, "_load", real_load)
    # THEN it ends with one clear message that says what to do, never a traceback
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("error: lost the connection to PostgreSQL (")
    assert err.rstrip().endswith(f"Once the database answers again: lake redrive --workdir {work}")
    # AND the failed objects' messages were kept in the DLQ (saved with the workdir): the maintenance
    # log's, and the robots' when SQS delivered them after it
    assert dlq_depth(Workdir.at(work)) in (1, 2)
    # WHEN the database is back and the user redrives (a new process in real life: a fresh handler)
    capsys.readouterr()
    _new_process(user_environ)
    assert main(["redrive", "--workdir", str(work), "--workers", "1"]) == 0
    # THEN the maintenance logs load, nothing stays in the DLQ or `processing`
    out = capsys.readouterr().out
    assert "messages from the DLQ to the ingest queue" in out and "the DLQ is empty" in out
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT object_key, status FROM etl.ingest_ledger ORDER BY 1").fetchall() == [
            ("robot_maintenance_logs/maintenance_2025-Q1.csv", "loaded"), ("surgical_robots/robots.csv", "loaded")]
        assert conn.execute("SELECT count(*) FROM robot_maintenance_logs").fetchone() == (2,)
    assert dlq_depth(Workdir.at(work)) == 0
    # AND `lake status` shows the ledger without stale rows
    _new_process(user_environ)
    assert main(["status", "--workdir", str(work)]) == 0
    status = capsys.readouterr().out
    assert "DLQ depth: 0" in status and "stale" not in status

"""The deploy-time handlers: migrations on a real PostgreSQL, Redshift SQL through fake clients."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg
import pytest

from lake.db_roles import MIGRATOR, ROLES
from lambdas.athena_sql.handler import AthenaSqlError, create_views, strip_leading_comments, view_files
from lambdas.custom_resource import CustomResourceError, Deadline, poll_until, run_custom_resource
from lambdas.migrate import handler as migrate_handler
from lambdas.migrate.migrations import migration_files
from lambdas.migrate.roles import role_url
from lambdas.redshift_sql import handler as redshift_handler
from lambdas.redshift_sql.handler import SqlApplyError, render, rendered_files


class FakeContext:
    """The Lambda context attributes the handlers read."""

    def __init__(self, remaining_ms: int = 600_000) -> None:
        self.log_stream_name = "2026/11/25/[$LATEST]abc"
        self._until = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._until - time.monotonic()) * 1000)


class FakeClock:
    """time.monotonic for a Deadline, advanced by the fake sleep of the polling loops."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


CONTEXT = FakeContext()
LONG = Deadline.after(3600)


def _event(request: str, props: dict[str, Any], physical: str | None = None) -> dict[str, Any]:
    event = {
        "RequestType": request, "ResponseURL": "https://cfn-response.example/presigned",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/surgical-lake-dev/1",
        "RequestId": "req-1", "LogicalResourceId": "DatabaseMigrateApply", "ResourceType": "Custom::X",
        "ResourceProperties": {"ServiceToken": "arn:fn", **props},
    }
    if physical:
        event["PhysicalResourceId"] = physical
    return event


class Responses:
    """Captures what the handler PUTs to the pre-signed URL."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, body: bytes) -> None:
        self.sent.append((url, json.loads(body)))

    def __iter__(self):
        return iter(self.sent)

    def __getitem__(self, index: int) -> tuple[str, dict[str, Any]]:
        return self.sent[index]


class FakeSecrets:
    def __init__(self, secrets: dict[str, dict[str, Any]]) -> None:
        self.secrets = secrets

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 (boto3 casing)
        return {"SecretString": json.dumps(self.secrets[SecretId])}


# --- plumbing ---------------------------------------------------------------------------------

def test_success_failure_and_delete_always_answer() -> None:
    sent = Responses()
    # GIVEN work that succeeds WHEN created THEN SUCCESS with its data and the chosen physical id
    run_custom_resource(_event("Create", {"A": "1"}), CONTEXT, "pid", lambda p: {"Echo": p["A"]}, sent)
    # AND work that raises WHEN updated THEN FAILED with the reason, and the existing physical id kept
    def boom(_: Any) -> dict[str, str]:
        raise RuntimeError("relation does not exist")
    run_custom_resource(_event("Update", {}, physical="old-pid"), CONTEXT, "pid", boom, sent)
    # AND a delete never runs the work
    run_custom_resource(_event("Delete", {}, physical="pid"), CONTEXT, "pid", boom, sent)
    (url, created), (_, failed), (_, deleted) = sent
    assert url == "https://cfn-response.example/presigned"
    assert (created["Status"], created["PhysicalResourceId"], created["Data"]) == ("SUCCESS", "pid", {"Echo": "1"})
    assert (failed["Status"], failed["PhysicalResourceId"]) == ("FAILED", "old-pid")
    assert "RuntimeError: relation does not exist" in failed["Reason"] and "abc" in failed["Reason"]
    assert (deleted["Status"], deleted["Data"]) == ("SUCCESS", {})
    assert created["RequestId"] == "req-1" and created["LogicalResourceId"] == "DatabaseMigrateApply"


# --- migrations -------------------------------------------------------------------------------

def _db_props(url: str, passwords: dict[str, str]) -> tuple[dict[str, Any], FakeSecrets]:
    """Props as the CDK app sets them: the master secret and one secret per lake role."""
    parts = urlparse(url)
    secrets = {"arn:secret:rds": {"username": parts.username or "postgres",
                                  "password": unquote(parts.password or ""), "engine": "postgres"}}
    secrets |= {f"arn:secret:{name}": {"username": name, "password": pw} for name, pw in passwords.items()}
    props = {"SecretArn": "arn:secret:rds", "RoleSecretArns": {name: f"arn:secret:{name}" for name in passwords},
             "Host": parts.hostname, "Port": str(parts.port or 5432), "Database": parts.path.lstrip("/")}
    return props, FakeSecrets(secrets)


def test_migrate_handler_applies_once_then_nothing(empty_db: str, role_passwords: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an empty database and the master's and the roles' credentials in a (fake) Secrets Manager
    # (roles are cluster-wide: the session's passwords, so other tests on this server keep working)
    passwords = role_passwords
    props, secrets = _db_props(empty_db, passwords)
    monkeypatch.setenv("PGSSLMODE", "disable")  # the throwaway server has no certificate
    monkeypatch.setattr(migrate_handler.boto3, "client", lambda service: secrets)
    sent = Responses()
    # WHEN CloudFormation creates, then updates the resource
    migrate_handler.handler(_event("Create", props), CONTEXT, sent)
    migrate_handler.handler(_event("Update", props, physical="rds-migrations"), CONTEXT, sent)
    # THEN the first run applied every file, the second none, both answered SUCCESS
    first, second = (doc for _, doc in sent)
    assert first["Status"] == second["Status"] == "SUCCESS", first["Reason"]
    assert first["Data"]["Applied"].split(",") == [p.name for p in migration_files()]
    assert second["Data"] == {"Applied": "none", "Count": "0"}
    with psycopg.connect(empty_db) as conn:
        recorded = [r[0] for r in conn.execute("SELECT name FROM public.schema_migrations ORDER BY name")]
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname IN ('public', 'etl')")}
    assert recorded == [p.name for p in migration_files()]
    # AND the roles log in with their secrets' passwords; the migrator (not the master) owns the schema
    assert owners == {MIGRATOR.name}
    for role in ROLES:
        with psycopg.connect(role_url(empty_db, role, passwords[role.name])) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role.name,)


def test_migrate_handler_reports_a_failing_migration(empty_db: str, tmp_path: Path, role_passwords: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a migration folder whose second file is broken
    sql_dir = tmp_path / "rds"
    sql_dir.mkdir()
    (sql_dir / "001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (sql_dir / "002_broken.sql").write_text("CREATE TABLE broken (id no_such_type);")
    props, secrets = _db_props(empty_db, role_passwords)
    monkeypatch.setenv("PGSSLMODE", "disable")
    sent = Responses()
    # WHEN the resource is created
    run_custom_resource(_event("Create", props), CONTEXT, "rds-migrations",
                        lambda p: migrate_handler.migrate(p, secrets, sql_dir), sent)
    # THEN CloudFormation hears FAILED naming the file, and nothing of the failed run is committed
    ((_, doc),) = sent
    assert doc["Status"] == "FAILED" and "002_broken.sql failed" in doc["Reason"]
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('public.ok')").fetchone() == (None,)


# --- Redshift SQL -----------------------------------------------------------------------------

class FakeRedshift:
    """redshift-serverless + redshift-data stand-in recording statements in order."""

    def __init__(self, fail_on: str | None = None, polls_before_done: int = 1) -> None:
        self.statements: list[dict[str, str]] = []
        self.fail_on = fail_on
        self.polls_before_done = polls_before_done
        self._polls: dict[str, int] = {}

    def get_namespace(self, namespaceName: str) -> dict[str, Any]:  # noqa: N803
        return {"namespace": {"namespaceName": namespaceName,
                              "adminPasswordSecretArn": f"arn:secret:redshift!{namespaceName}-lake_admin-AbC123"}}

    def execute_statement(self, **kwargs: str) -> dict[str, str]:
        self.statements.append(kwargs)
        return {"Id": f"stmt-{len(self.statements)}"}

    def describe_statement(self, Id: str) -> dict[str, str]:  # noqa: N803
        self._polls[Id] = self._polls.get(Id, 0) + 1
        if self._polls[Id] <= self.polls_before_done:
            return {"Status": "STARTED"}
        sql = self.statements[int(Id.split("-")[1]) - 1]["Sql"]
        if self.fail_on and self.fail_on in sql:
            return {"Status": "FAILED", "Error": "ERROR: schema rds does not exist"}
        return {"Status": "FINISHED"}


PLACEHOLDER_VALUES = {"GLUE_DATABASE": "surgical_lake", "SPECTRUM_ROLE_ARN": "arn:aws:iam::1:role/spectrum",
                      "RDS_HOST": "db.internal", "RDS_PORT": "5432", "RDS_DATABASE": "surgical_lake",
                      "RDS_SECRET_ARN": "arn:secret:rds", "INACTIVITY_HOURS": "48",
                      "API_DB_USER": "IAMR:surgical-lake-dev-api"}


def _sql_props() -> dict[str, Any]:
    return {"WorkgroupName": "surgical-lake-dev-wg", "NamespaceName": "surgical-lake-dev-ns",
            "Database": "analytics", "Placeholders": PLACEHOLDER_VALUES}


def test_render_substitutes_and_rejects_unknown_placeholders() -> None:
    sql = "CREATE EXTERNAL SCHEMA lake FROM DATA CATALOG DATABASE '{{GLUE_DATABASE}}' IAM_ROLE '{{SPECTRUM_ROLE_ARN}}';"
    assert render(sql, PLACEHOLDER_VALUES) == (
        "CREATE EXTERNAL SCHEMA lake FROM DATA CATALOG DATABASE 'surgical_lake' "
        "IAM_ROLE 'arn:aws:iam::1:role/spectrum';")
    with pytest.raises(SqlApplyError, match="RDS_PASSWORD"):
        render("SELECT '{{RDS_PASSWORD}}'", PLACEHOLDER_VALUES)


def test_files_apply_in_name_order_with_the_managed_secret(tmp_path: Path) -> None:
    # GIVEN three files written out of order
    for name, body in (("10_view.sql", "CREATE OR REPLACE VIEW analytics.v AS SELECT 1;"),
                       ("00_schema.sql", "CREATE EXTERNAL SCHEMA IF NOT EXISTS lake DATABASE '{{GLUE_DATABASE}}';"),
                       ("03_analytics.sql", "CREATE SCHEMA IF NOT EXISTS analytics;")):
        (tmp_path / name).write_text(body)
    fake = FakeRedshift(polls_before_done=2)
    # WHEN applied
    result = redshift_handler.apply_sql(_sql_props(), fake, fake, tmp_path, sleep=lambda _: None, deadline=LONG)
    # THEN in name order, rendered, on the workgroup, with the secret read from the namespace
    assert [s["StatementName"] for s in fake.statements] == ["00_schema.sql", "03_analytics.sql", "10_view.sql"]
    assert "DATABASE 'surgical_lake'" in fake.statements[0]["Sql"]
    assert {s["WorkgroupName"] for s in fake.statements} == {"surgical-lake-dev-wg"}
    assert {s["SecretArn"] for s in fake.statements} == {"arn:secret:redshift!surgical-lake-dev-ns-lake_admin-AbC123"}
    assert result == {"Applied": "00_schema.sql,03_analytics.sql,10_view.sql", "Count": "3"}


def test_a_failing_statement_stops_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "01_a.sql").write_text("SELECT 1;")
    (tmp_path / "02_b.sql").write_text("CREATE VIEW x AS SELECT * FROM rds.t;")
    (tmp_path / "03_c.sql").write_text("SELECT 3;")
    fake = FakeRedshift(fail_on="rds.t")
    with pytest.raises(SqlApplyError, match=r"02_b.sql: FAILED: ERROR: schema rds does not exist"):
        redshift_handler.apply_sql(_sql_props(), fake, fake, tmp_path, sleep=lambda _: None, deadline=LONG)
    assert len(fake.statements) == 2  # 03 never ran


def test_a_bundle_without_sql_fails_instead_of_doing_nothing(tmp_path: Path) -> None:
    # GIVEN a function whose bundle lost its SQL folder
    sent = Responses()
    with pytest.raises(SqlApplyError, match="no SQL files"):
        rendered_files(tmp_path / "absent", PLACEHOLDER_VALUES)
    # WHEN CloudFormation creates the resource THEN it hears FAILED, not a SUCCESS that applied nothing
    run_custom_resource(_event("Create", _sql_props()), CONTEXT, "redshift-sql",
                        lambda p: redshift_handler.apply_sql(p, None, None, tmp_path / "absent", deadline=LONG),
                        sent)
    assert sent[0][1]["Status"] == "FAILED" and "no SQL files" in sent[0][1]["Reason"]
    with pytest.raises(AthenaSqlError, match="no view files"):
        create_views({"WorkGroup": "w", "Database": "d"}, FakeAthena(), tmp_path / "absent", deadline=LONG)


def test_repository_views_render_with_the_deploy_placeholders() -> None:
    # GIVEN the real sql/redshift files WHEN rendered THEN no placeholder is left or unknown
    files = rendered_files(redshift_handler.SQL_DIR, PLACEHOLDER_VALUES)
    assert files
    assert all("{{" not in sql for _, sql in files)
    assert [name for name, _ in files] == sorted(name for name, _ in files)


# --- Athena views -----------------------------------------------------------------------------

class FakeAthena:
    def __init__(self, fail_on: str | None = None) -> None:
        self.queries: list[dict[str, Any]] = []
        self.fail_on = fail_on
        self._polls: dict[str, int] = {}

    def start_query_execution(self, **kwargs: Any) -> dict[str, str]:
        self.queries.append(kwargs)
        return {"QueryExecutionId": f"q-{len(self.queries)}"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        self._polls[QueryExecutionId] = self._polls.get(QueryExecutionId, 0) + 1
        if self._polls[QueryExecutionId] == 1:
            return {"QueryExecution": {"Status": {"State": "RUNNING"}}}
        sql = self.queries[int(QueryExecutionId.split("-")[1]) - 1]["QueryString"]
        if self.fail_on and self.fail_on in sql:
            return {"QueryExecution": {"Status": {"State": "FAILED",
                                                  "StateChangeReason": "TABLE_NOT_FOUND: telemetry_hourly"}}}
        return {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}


def test_only_view_files_run_in_name_order_without_their_header(tmp_path: Path) -> None:
    # GIVEN two view files (out of order) and a plain query file
    (tmp_path / "11_v_b.sql").write_text("-- What is b?\nCREATE OR REPLACE VIEW v_b AS\nSELECT 2 AS x;\n")
    (tmp_path / "10_v_a.sql").write_text("-- What is a?\n-- (two header lines)\nCREATE OR REPLACE VIEW v_a AS SELECT 1;")
    (tmp_path / "20_q.sql").write_text("-- A query\nSELECT * FROM v_a")
    fake = FakeAthena()
    # WHEN the views are created
    result = create_views({"WorkGroup": "surgical-lake-dev-athena", "Database": "surgical_lake"}, fake,
                          tmp_path, sleep=lambda _: None, deadline=LONG)
    # THEN only the two views ran, a before b, without comments or trailing semicolon, in the workgroup
    assert [q["QueryString"] for q in fake.queries] == [
        "CREATE OR REPLACE VIEW v_a AS SELECT 1", "CREATE OR REPLACE VIEW v_b AS\nSELECT 2 AS x"]
    assert {q["WorkGroup"] for q in fake.queries} == {"surgical-lake-dev-athena"}
    assert fake.queries[0]["QueryExecutionContext"] == {"Catalog": "AwsDataCatalog", "Database": "surgical_lake"}
    assert result == {"Views": "v_a,v_b", "Count": "2"}


def test_a_failing_view_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "10_v_a.sql").write_text("CREATE OR REPLACE VIEW v_a AS SELECT * FROM telemetry_hourly")
    with pytest.raises(AthenaSqlError, match="10_v_a.sql: FAILED: TABLE_NOT_FOUND"):
        create_views({"WorkGroup": "w", "Database": "d"}, FakeAthena(fail_on="telemetry_hourly"), tmp_path,
                     sleep=lambda _: None, deadline=LONG)


def test_repository_athena_views_are_detected() -> None:
    from lambdas.athena_sql.handler import SQL_DIR

    views = view_files(SQL_DIR)
    creates = [p.name for p in sorted(SQL_DIR.glob("*.sql")) if "CREATE OR REPLACE VIEW" in p.read_text().upper()]
    assert [f for f, _, _ in views] == creates
    assert all(not sql.startswith("--") for _, _, sql in views)
    assert strip_leading_comments("-- x\n\nSELECT 1;\n") == "SELECT 1"


def test_poll_until_returns_the_final_status_and_stops_before_the_deadline() -> None:
    # GIVEN an API that reports RUNNING twice, then FINISHED
    clock = FakeClock()
    states = iter(["RUNNING", "RUNNING", "FINISHED"])
    status = poll_until(lambda: {"Status": next(states)}, lambda s: s["Status"], {"FINISHED"},
                        what="10_v.sql", deadline=Deadline.after(10, clock), poll_s=2, sleep=clock.sleep)
    # THEN the final status comes back after two waits
    assert status == {"Status": "FINISHED"} and clock.now == 4
    # AND a statement that never finishes fails while there is still time to answer, naming it
    clock = FakeClock()
    with pytest.raises(CustomResourceError, match="10_v.sql: still RUNNING when the function ran out of time"):
        poll_until(lambda: {"Status": "RUNNING"}, lambda s: s["Status"], {"FINISHED"},
                   what="10_v.sql", deadline=Deadline.after(5, clock), poll_s=2, sleep=clock.sleep)
    assert clock.now == 4  # polled at 0, 2 and 4 s: one more wait would pass the deadline


def test_sixteen_slow_statements_share_one_deadline_not_300_s_each(tmp_path: Path) -> None:
    # GIVEN 16 files whose statements each take 60 s in Redshift, and 400 s left in the invocation
    for i in range(16):
        (tmp_path / f"{i:02d}.sql").write_text(f"SELECT {i};")
    clock = FakeClock()
    fake = FakeRedshift(polls_before_done=60)
    # WHEN applied THEN the run stops at the deadline, inside the statement that would overrun it
    with pytest.raises(CustomResourceError, match="06.sql: still STARTED"):
        redshift_handler.apply_sql(_sql_props(), fake, fake, tmp_path, sleep=clock.sleep,
                                   deadline=Deadline.after(400, clock))
    assert len(fake.statements) == 7 and clock.now < 400


def test_the_deadline_comes_from_the_remaining_time_less_the_reserve() -> None:
    deadline = Deadline.from_context(FakeContext(remaining_ms=900_000), reserve_s=20)
    assert 879 < deadline.remaining() <= 880


def test_work_still_running_at_the_deadline_is_answered_failed_once() -> None:
    # GIVEN work that blocks past the invocation's deadline (0.3 s from now)
    sent = Responses()
    release = threading.Event()

    def stuck(_: Any) -> dict[str, str]:
        release.wait(5)
        return {"Late": "yes"}

    context = FakeContext(remaining_ms=20_300)
    timer = threading.Timer(1.0, release.set)
    started = time.monotonic()  # before the timer starts: the work cannot return sooner than 1 s
    timer.start()
    # WHEN the resource is created
    doc = run_custom_resource(_event("Create", {}), context, "pid", stuck, sent)
    # THEN CloudFormation got FAILED at the deadline, and nothing more when the work came back
    assert [d["Status"] for _, d in sent] == ["FAILED"] and doc["Status"] == "FAILED"
    assert "did not finish before the function's timeout" in doc["Reason"] and "abc" in doc["Reason"]
    assert time.monotonic() - started >= 1.0
    timer.cancel()


def test_deploy_time_handlers_poll_until_their_own_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an Athena view that never finishes and an invocation with 21 s left (1 s after the reserve)
    class NeverDone(FakeAthena):
        def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
            return {"QueryExecution": {"Status": {"State": "RUNNING"}}}

    from lambdas.athena_sql import handler as athena_handler

    monkeypatch.setattr(athena_handler.boto3, "client", lambda service: NeverDone())
    sent = Responses()
    # WHEN CloudFormation creates the views
    athena_handler.handler(_event("Create", {"WorkGroup": "w", "Database": "d"}), FakeContext(21_000), sent)
    # THEN the handler gave up inside its deadline and answered FAILED naming the file
    ((_, doc),) = sent
    assert doc["Status"] == "FAILED" and "still RUNNING when the function ran out of time" in doc["Reason"]

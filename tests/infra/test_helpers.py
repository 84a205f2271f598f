"""Small pure helpers of the CDK app, and the deploy-time contract of the SQL folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_cdk import aws_logs as logs

from infra.athena import query_description
from infra.config import REPO_ROOT
from infra.log_groups import retention_days


@pytest.mark.parametrize(("days", "expected"), [
    (1, logs.RetentionDays.ONE_DAY), (30, logs.RetentionDays.ONE_MONTH),
    (31, logs.RetentionDays.TWO_MONTHS), (365, logs.RetentionDays.ONE_YEAR),
    (100_000, logs.RetentionDays.TEN_YEARS),
])
def test_retention_is_the_smallest_that_keeps_the_configured_days(days: int, expected) -> None:
    assert retention_days(days) == expected


def test_named_query_description_is_the_header_question() -> None:
    sql = "-- Which robots ran hottest?\n-- Reads 8 partitions.\nSELECT 1"
    assert query_description(sql, "q.sql") == "Which robots ran hottest? Reads 8 partitions."
    assert query_description("SELECT 1", "q.sql") == "q.sql"


def _statements(sql: str) -> list[str]:
    """Statements of a file, ignoring semicolons in `--` comments, quoted strings and $$ bodies
    (whichever starts first wins: an apostrophe in a comment opens no string)."""
    masked = re.sub(r"--[^\n]*|'(?:[^']|'')*'|\$\$.*?\$\$", lambda m: "" if m[0].startswith("--") else " x ",
                    sql, flags=re.S)  # a comment is no statement (one after the last `;` included)
    return [s for s in masked.split(";") if s.strip()]


@pytest.mark.parametrize("folder", ["sql/redshift", "sql/athena"])
def test_every_deployed_sql_file_is_one_statement(folder: str) -> None:
    # GIVEN the files the deploy-time custom resources send one by one (the Redshift Data API
    # and Athena both take exactly one statement per call)
    files = sorted((REPO_ROOT / folder).glob("*.sql"))
    if not files:
        pytest.skip(f"{folder} is empty")
    # THEN each holds exactly one statement
    assert {p.name: len(_statements(p.read_text())) for p in files} == {p.name: 1 for p in files}


def test_statement_counter_sees_through_strings_and_comments(tmp_path: Path) -> None:
    assert len(_statements("-- a; b\nSELECT 'x;y' AS s;\n")) == 1
    assert len(_statements("SELECT 1; SELECT 2;")) == 2
    assert len(_statements("-- the API's user\nCALL p('a;b');\n")) == 1
    assert len(_statements("CREATE PROCEDURE p() AS $$ BEGIN x; y; END; $$ LANGUAGE plpgsql;")) == 1
    assert len(_statements("SELECT '--not a comment'; SELECT 2;")) == 2
    assert len(_statements("SELECT 1;\n-- the end\n")) == 1

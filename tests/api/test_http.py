"""`lake token` + the local server over real HTTP on 127.0.0.1: what a user's curl sees, the access
log, and new loads showing up without a restart."""

from __future__ import annotations

import contextlib
import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cli.main import main as lake
from local.analytics.workdir_engine import lake_root
from local.api_server import running
from local.stack.postgres_server import free_port
from local.workdir import Workdir
from tests.api import fixture


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, role_passwords: dict[str, str]) -> Workdir:
    wd = Workdir.at(tmp_path_factory.mktemp("serve") / "work")
    wd.write_json(wd.state_dir / "db-roles.json", role_passwords)  # the roles as the session created them
    fixture.write_lake_tables(lake_root(wd))
    return wd


@pytest.fixture(scope="module")
def base(workdir: Workdir, lake_db: str) -> Iterator[str]:
    with running(workdir, lake_db, free_port(), poll_seconds=0.2) as url:
        yield url


def token(workdir: Workdir, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert lake(["token", "--workdir", str(workdir.root), *args]) == 0
    return out.getvalue().strip()


def call(url: str, bearer: str | None = None, accept: str = "application/json") -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept, **({"Authorization": f"Bearer {bearer}"}
                                                                        if bearer else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["content-type"], err.read().decode()


def test_curl_like_calls(base: str, workdir: Workdir) -> None:
    fac1 = token(workdir, "--facility", "FAC-001")
    status, kind, body = call(f"{base}/v1/robots", fac1)
    assert (status, kind) == (200, "application/json")
    assert [r["robot_id"] for r in json.loads(body)["data"]] == [fixture.R1, fixture.R2]
    status, kind, body = call(f"{base}/v1/robots/{fixture.R3}", fac1)
    assert (status, kind, json.loads(body)["type"]) == (404, "application/problem+json",
                                                        "urn:surgical-lake:problem:not-found")
    status, _, body = call(f"{base}/v1/robots/{fixture.R1}/telemetry/hourly?arm_id=1", fac1, accept="text/csv")
    assert status == 200 and body.splitlines()[1].startswith("ROBOT-0001,1,2025-02-03T08:00:00+00:00,10")
    assert call(f"{base}/v1/robots")[0] == 401
    assert json.loads(call(f"{base}/v1/health")[2])["status"] == "ok"


def test_access_log_names_who_and_how_many_never_the_rows(base: str, workdir: Workdir) -> None:
    admin = token(workdir, "--admin", "--phi", "--subject", "alice")
    assert call(f"{base}/v1/procedures", admin)[0] == 200
    # the server writes the line once the response is sent, so it may land just after the client has it
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in (workdir.state_dir / "api-access.log").read_text().splitlines()]
        mine = [e for e in lines if e["principal"] == "alice"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert mine[-1] | {"ms": 0} == {"principal": "alice", "facilities": [], "admin": True, "method": "GET",
                                    "endpoint": "/v1/procedures", "status": 200, "rows": 4, "ms": 0}
    text = (workdir.state_dir / "api-access.log").read_text()
    assert not any(value in text for value in (*fixture.PATIENT.values(), "Hospital", "SN-0001X", "urology"))


def test_a_running_server_sees_new_loads(base: str, workdir: Workdir, lake_db: str) -> None:
    admin = token(workdir, "--admin")
    robots = lambda: [r["robot_id"] for r in json.loads(call(f"{base}/v1/views/v_robot_reliability", admin)[2])["data"]]  # noqa: E731
    assert "ROBOT-0009" not in robots()
    # WHEN the ingest loads a robot (the row and its ledger entry)
    with psycopg.connect(lake_db) as conn:
        fixture.insert(conn, "surgical_robots", [{**fixture.ROBOTS[0], "robot_id": "ROBOT-0009"}])
        fixture.insert(conn, "etl.ingest_ledger", [{**fixture.LEDGER[0], "object_key": "surgical_robots/new.csv",
                                                    "first_seen_at": fixture.ts(3, 1)}])
    # THEN the analytics snapshot follows within a few polls, without a restart
    deadline = time.monotonic() + 20
    while "ROBOT-0009" not in robots():
        assert time.monotonic() < deadline, "the view never showed the new robot"
        time.sleep(0.2)
    assert call(f"{base}/v1/robots/ROBOT-0009", admin)[0] == 200  # PostgreSQL answers at once


def test_serve_refuses_a_busy_port(workdir: Workdir, lake_db: str, base: str) -> None:
    from local.exceptions import InputError

    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(InputError, match=f"port {port}"), running(workdir, lake_db, port):
        pass


def test_token_refuses_what_grants_nothing(workdir: Workdir, capsys: pytest.CaptureFixture[str]) -> None:
    assert lake(["token", "--workdir", str(workdir.root)]) == 2
    assert lake(["token", "--workdir", str(workdir.root), "--facility", "FAC-1"]) == 2
    assert lake(["token", "--workdir", str(workdir.root), "--admin", "--hours", "0"]) == 2
    err = capsys.readouterr().err
    assert "must grant something" in err and "FAC-003" in err and "lifetime" in err
    key = workdir.state_dir / "api-token.key"
    assert key.stat().st_mode & 0o777 == 0o600 and Path(key).read_text().strip()

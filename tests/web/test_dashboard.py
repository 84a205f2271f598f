"""The dashboard in a real browser (Debian's Chromium through Playwright) against `lake serve`'s
server (`local.api_server.running`: the API and the built app on 127.0.0.1) over the API tests'
hand-written lake (tests/api/fixture.py), plus one hourly rollup that leaves a gap.

Expected numbers are worked out by hand from that fixture (see tests/api/test_panels.py):
- everything: 3 performed procedures (P1, P2, P4), 2 successful, 1 complicated; 6 operating hours
  over 3 robot-days -> utilization 6/72 = 8.3 %; R2 in maintenance; 2 anomalies;
- FAC-001: P1 + P2 -> 50.0 % / 50.0 %, 3 h over 2 robot-days = 6.25 % (shown 6.3 %); 1 anomaly;
- FAC-001, 2025-02-05 .. 2025-02-10: P2 only -> 0.0 % success, 100.0 % complications, 1 h on one
  robot-day = 4.2 %, no anomaly.
Screenshots of every page go to test-artifacts/web/.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest

from api.principal import Principal
from api.tokens import issue, signing_key
from local.analytics.workdir_engine import lake_root
from local.api_server import running
from local.stack.postgres_server import free_port
from local.workdir import Workdir
from tests.api import fixture
from tests.api.conftest import lake_db  # noqa: F401  (the module's migrated database with the fixture)
from tests.sql.lake_fixture import write_lake
from tests.web.browser import ARTIFACTS, chromium, require_build

GAP_HOUR = fixture._hour(fixture.R1, 1, fixture.ts(2, 3, 12), 44.0)  # R1 arm 1: 08, 09, (10, 11 missing), 12


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, role_passwords: dict[str, str],
           lake_db: str) -> Iterator[tuple[str, Workdir]]:  # noqa: F811
    require_build()
    wd = Workdir.at(tmp_path_factory.mktemp("web") / "work")
    wd.write_json(wd.state_dir / "db-roles.json", role_passwords)
    write_lake(lake_root(wd), "telemetry_hourly", [*fixture.HOURLY, GAP_HOUR])
    write_lake(lake_root(wd), "telemetry_anomalies", fixture.ANOMALIES)
    with running(wd, lake_db, free_port(), poll_seconds=0) as url:
        yield url, wd


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _token(wd: Workdir, *groups: str) -> str:
    return issue(signing_key(wd.state_dir), Principal.from_groups("web-test", groups))


def _page(browser: Any, errors: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return page


def _ready(page: Any) -> None:
    page.wait_for_selector("body[data-state=ready]", timeout=20_000)


def _kpis(page: Any) -> dict[str, str]:
    _ready(page)
    return {el.get_attribute("data-kpi"): el.inner_text() for el in page.query_selector_all("[data-kpi]")}


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, url: str, token: str) -> None:
    page.goto(f"{url}/")
    page.fill("#token", token)
    _shot(page, "signin")
    page.click("#signin")
    _ready(page)


def test_admin_signs_in_filters_drills_down_and_downloads(server: tuple[str, Workdir], browser: Any) -> None:
    url, wd = server
    errors: list[str] = []
    page = _page(browser, errors)
    # GIVEN an admin signed in by pasting a token
    _sign_in(page, url, _token(wd, "admin"))
    # THEN the overview shows every facility's numbers
    assert _kpis(page) == {"procedures": "3", "success_rate": "66.7 %", "complication_rate": "33.3 %",
                           "utilization": "8.3 %", "robots_in_maintenance": "1", "anomalies": "2"}
    assert page.locator("canvas[data-chart]").count() == 3
    _shot(page, "overview")
    # WHEN FAC-001 is ticked THEN the numbers are FAC-001's, and the URL holds the filter
    page.check("[data-facilities] input[value=FAC-001]")
    page.wait_for_url("**#/overview?facility=FAC-001")
    assert _kpis(page) == {"procedures": "2", "success_rate": "50.0 %", "complication_rate": "50.0 %",
                           "utilization": "6.3 %", "robots_in_maintenance": "1", "anomalies": "1"}
    # WHEN the date range is 2025-02-05 .. 2025-02-10 THEN only P2 counts
    page.fill("#from", "2025-02-05")
    page.dispatch_event("#from", "change")
    page.wait_for_url("**from=2025-02-05*")
    page.fill("#to", "2025-02-10")
    page.dispatch_event("#to", "change")
    page.wait_for_url("**to=2025-02-10*")
    assert _kpis(page) == {"procedures": "1", "success_rate": "0.0 %", "complication_rate": "100.0 %",
                           "utilization": "4.2 %", "robots_in_maintenance": "1", "anomalies": "0"}
    # AND a shared URL opens the same view in a new tab
    shared = page.url
    other = _page(browser, errors)
    _sign_in(other, url, _token(wd, "admin"))
    other.goto(shared)
    assert _kpis(other)["complication_rate"] == "100.0 %"
    # WHEN the robots table is downloaded THEN the CSV holds FAC-001's robots
    with page.expect_download() as download:
        page.click("[data-csv=robots]")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(r["robot_id"], r["facility_id"], r["status"]) for r in rows] == [
        ("ROBOT-0001", "FAC-001", "active"), ("ROBOT-0002", "FAC-001", "maintenance")]
    # WHEN ROBOT-0001 is clicked (date range cleared) THEN its drill-down shows
    page.goto(f"{url}/#/overview?facility=FAC-001")
    _ready(page)
    page.click("[data-table=robots] a[data-robot=ROBOT-0001]")
    page.wait_for_url("**#/robot?facility=FAC-001&robot=ROBOT-0001")
    _ready(page)
    assert page.inner_text("[data-robot-title]") == "ROBOT-0001"
    hours = page.locator("[data-table=telemetry_hourly] tbody tr")
    assert hours.count() == 3  # arm 1: 08:00, 09:00, 12:00
    assert page.locator("[data-table=maintenance] tbody tr").all_inner_texts()[0].startswith("MAINT-000001")
    assert "motor_temp_c_avg" in page.inner_text("[data-table=anomalies]")
    # the temperature line breaks between 09:00 and 12:00 (a null at 10:00), the anomaly is marked at 09:00
    temp = page.evaluate("() => document.querySelector('canvas[data-chart=motor_temp_c_avg]')"
                         ".chart.data.datasets.map(d => d.data)")
    hour = [int(dt.datetime(2025, 2, 3, h, tzinfo=dt.UTC).timestamp() * 1000) for h in (8, 9, 10, 12)]
    assert temp[0] == [{"x": hour[0], "y": 40.0}, {"x": hour[1], "y": 42.0}, {"x": hour[2], "y": None},
                       {"x": hour[3], "y": 44.0}]
    assert temp[1] == [{"x": hour[1], "y": 42.5}]
    _shot(page, "robot")
    # and the KPIs follow the selected robot
    page.click("[data-page=overview]")
    assert _kpis(page)["procedures"] == "2" and page.locator("[data-table=robots] tbody tr").count() == 1
    # adherence: every robot needs attention (see test_panels); rows link to the robot
    page.goto(f"{url}/#/adherence")
    _ready(page)
    assert page.locator("[data-table=adherence] a[data-robot]").all_inner_texts() == [
        "ROBOT-0001", "ROBOT-0002", "ROBOT-0003"]
    _shot(page, "adherence")
    page.click("[data-table=adherence] a[data-robot=ROBOT-0003]")
    page.wait_for_url("**robot=ROBOT-0003")
    _ready(page)
    # data quality for the admin
    page.goto(f"{url}/#/quality")
    _ready(page)
    assert page.locator("[data-table=reconciliation] tbody tr").first.inner_text().split("\t")[:4] == [
        "surgical_procedures", "1", "5", "4"]
    _shot(page, "quality")
    assert errors == []


def test_a_facility_token_never_shows_another_facilitys_robot(server: tuple[str, Workdir], browser: Any) -> None:
    url, wd = server
    errors: list[str] = []
    page = _page(browser, errors)
    _sign_in(page, url, _token(wd, "facility:FAC-002"))
    seen = []
    for route in ("overview", "adherence", "robot?robot=ROBOT-0003", "quality", "overview?facility=FAC-001"):
        page.goto(f"{url}/#/{route}")
        _ready(page)
        seen.append(page.inner_text("body"))
    assert all("ROBOT-0001" not in text and "ROBOT-0002" not in text and "FAC-001" not in text for text in seen)
    assert "ROBOT-0003" in seen[0] and page.locator("[data-facilities] input").count() == 1
    assert _kpis(page)["procedures"] == "0"  # FAC-001 asked for: the API narrows to nothing
    assert "admins only" in seen[3]
    # another facility's robot by URL: the API says 404, the page shows no data of it
    page.goto(f"{url}/#/robot?robot=ROBOT-0001")
    page.wait_for_selector("body[data-state=error]")
    assert "is visible to this token" in page.inner_text("[data-error]") and "FAC-001" not in page.inner_text("body")
    _shot(page, "facility-scoped")
    # the API's refusals (403 on the ledger panels, 404 for ROBOT-0001) are the only console errors
    assert [e for e in errors if not any(f"status of {code}" in e for code in (403, 404))] == []

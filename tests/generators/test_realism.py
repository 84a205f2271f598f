"""The data behaves like a hospital fleet: business hours, risk by complexity, drift before failures."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from statistics import mean

import pytest

from generators.catalog import FACILITIES
from tests.generators.conftest import run_generate
from tests.generators.contract_check import entity_files, parse_instant, read_lines

OFFSETS = {f.facility_id: f.utc_offset_hours for f in FACILITIES}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, object]]]:
    """Default fleet and date range, 3,000 procedures with 12 samples each (about 1 s)."""
    out = run_generate(
        tmp_path_factory.mktemp("fleet") / "raw", "--procedures", "3000", "--samples-per-procedure", "12"
    )
    tables = {}
    for entity in (
        "surgical_procedures",
        "procedure_outcomes",
        "robot_maintenance_logs",
        "procedure_telemetry",
    ):
        tables[entity] = [line.row for p in entity_files(out, entity) for line in read_lines(p)[1]]
    return tables  # type: ignore[return-value]


def _local(row: dict[str, object], column: str) -> dt.datetime:
    return parse_instant(str(row[column])).astimezone(dt.UTC) + dt.timedelta(
        hours=OFFSETS[str(row["facility_id"])]
    )


def test_electives_in_business_hours_emergencies_any_time(fleet) -> None:
    procs = fleet["surgical_procedures"]
    electives = [p for p in procs if p["is_emergency"] == "false"]
    emergencies = [p for p in procs if p["is_emergency"] == "true"]
    # THEN electives start on weekdays between 07:00 and 18:00 local time
    in_hours = [
        p
        for p in electives
        if _local(p, "scheduled_start").weekday() < 5 and 7 <= _local(p, "scheduled_start").hour < 18
    ]
    assert len(in_hours) / len(electives) > 0.95
    # AND emergencies (a few percent) also happen at night and on weekends
    assert 0.03 < len(emergencies) / len(procs) < 0.12
    night = [p for p in emergencies if not 7 <= _local(p, "scheduled_start").hour < 18]
    assert len(night) / len(emergencies) > 0.25


def test_outcomes_worsen_with_complexity(fleet) -> None:
    complexity = {p["procedure_id"]: p["complexity"] for p in fleet["surgical_procedures"]}
    status = {p["procedure_id"]: p["status"] for p in fleet["surgical_procedures"]}
    by_cx: dict[str, list[dict[str, object]]] = defaultdict(list)
    for o in fleet["procedure_outcomes"]:
        if status[o["procedure_id"]] != "cancelled":
            by_cx[str(complexity[o["procedure_id"]])].append(o)
    rate = {cx: mean(o["complication_occurred"] == "true" for o in rows) for cx, rows in by_cx.items()}
    stay = {cx: mean(float(str(o["length_of_stay_days"])) for o in rows) for cx, rows in by_cx.items()}
    # THEN complications and length of stay grow from low to high complexity
    assert rate["high"] > 1.8 * rate["low"] and rate["high"] > rate["medium"] > rate["low"]
    assert stay["high"] > stay["low"]
    # AND conversions to open surgery match the procedure status, complications have a severity
    for o in fleet["procedure_outcomes"]:
        assert (o["conversion_to_open"] == "true") == (status[o["procedure_id"]] == "converted")
        assert (o["complication_occurred"] == "true") == (o["complication_severity"] != "none")


def test_telemetry_drifts_before_unscheduled_maintenance(fleet) -> None:
    failures: dict[str, list[dt.datetime]] = defaultdict(list)
    for m in fleet["robot_maintenance_logs"]:
        if m["maintenance_type"] in ("unscheduled", "emergency"):
            failures[str(m["robot_id"])].append(parse_instant(str(m["started_at"])))
            assert m["failure_mode"]
        else:
            assert m["failure_mode"] == ""
    near, far = [], []
    for s in fleet["procedure_telemetry"]:
        t = parse_instant(str(s["timestamp"]))
        ahead = [f - t for f in failures.get(str(s["robot_id"]), []) if f > t]
        gap = min(ahead, default=dt.timedelta(days=999))
        if gap < dt.timedelta(days=2):
            near.append(s)
        elif gap > dt.timedelta(days=10):
            far.append(s)
    assert len(near) > 100 and len(far) > 1000
    # THEN in the two days before a failure the motor runs hotter, latency is higher, errors are frequent
    assert mean(s["motor_temp_c"] for s in near) > mean(s["motor_temp_c"] for s in far) + 5
    assert mean(s["latency_ms"] for s in near) > 1.5 * mean(s["latency_ms"] for s in far)
    err = lambda rows: mean(s["error_code"] is not None for s in rows)  # noqa: E731
    assert err(near) > 5 * err(far)


def test_patients_are_realistic(fleet) -> None:
    procs = fleet["surgical_procedures"]
    visits = Counter(p["patient_id"] for p in procs)
    # THEN some patients come back for another procedure, a few are 90 or older, names and ZIPs look real
    assert sum(n > 1 for n in visits.values()) > 50
    ages = [
        (dt.date(2025, 1, 1) - dt.date.fromisoformat(str(p["patient_birth_date"]))).days / 365.25
        for p in procs
    ]
    assert 0 < sum(a >= 90 for a in ages) < 0.05 * len(ages)
    assert min(ages) > 17.9
    names = [p["patient_name"] for p in procs if p["patient_name"]]
    assert len(set(names)) > 0.5 * len(names) and all(" " in str(n) for n in names)


def test_surgeons_get_faster_with_experience(fleet) -> None:
    # GIVEN performed procedures per surgeon, in time order, as a ratio to that type's median duration
    done = [p for p in fleet["surgical_procedures"] if p["status"] == "completed"]
    minutes = {
        p["procedure_id"]: (
            parse_instant(str(p["actual_end"])) - parse_instant(str(p["actual_start"]))
        ).total_seconds()
        / 60
        for p in done
    }
    by_type: dict[str, list[float]] = defaultdict(list)
    for p in done:
        by_type[str(p["procedure_type"]) + str(p["complexity"])].append(minutes[p["procedure_id"]])
    median = {k: sorted(v)[len(v) // 2] for k, v in by_type.items()}
    early: list[float] = []
    late: list[float] = []
    seen: Counter[str] = Counter()
    for p in sorted(done, key=lambda p: parse_instant(str(p["scheduled_start"]))):
        ratio = minutes[p["procedure_id"]] / median[str(p["procedure_type"]) + str(p["complexity"])]
        (
            early if seen[str(p["surgeon_id"])] < 5 else late if seen[str(p["surgeon_id"])] >= 40 else []
        ).append(ratio)
        seen[str(p["surgeon_id"])] += 1
    # THEN a surgeon's first cases take longer than their later ones
    assert mean(early) > 1.1 * mean(late)


def test_no_procedure_runs_while_its_robot_is_in_the_workshop(fleet) -> None:
    # GIVEN each robot's downtime windows [started_at, started_at + downtime_hours)
    windows: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for m in fleet["robot_maintenance_logs"]:
        start = parse_instant(str(m["started_at"]))
        windows[str(m["robot_id"])].append(
            (start, start + dt.timedelta(hours=float(str(m["downtime_hours"]))))
        )
    performed = [p for p in fleet["surgical_procedures"] if p["status"] != "cancelled"]
    # THEN no performed procedure overlaps one of its robot's windows
    clashes = [
        p["procedure_id"]
        for p in performed
        for lo, hi in windows[str(p["robot_id"])]
        if parse_instant(str(p["actual_start"])) < hi and parse_instant(str(p["actual_end"])) > lo
    ]
    assert performed and clashes == []

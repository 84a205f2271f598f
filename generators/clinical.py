"""Clinical tables: procedures (scheduled through each robot's day, with PHI) and their outcomes."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from faker import Faker
from faker.providers.person.en_US import Provider as Person

from generators.catalog import (
    COMPLEXITIES,
    FACILITIES,
    ORTHOPEDIC,
    PROCEDURE_STATUSES,
    PROCEDURE_TYPES,
    SEVERITIES,
)
from generators.options import Options
from generators.records import DAY, HOUR, Row, Table, procedure_id, robot_id, stream
from generators.timefmt import epoch_seconds, format_instant

SURGEONS_PER_FACILITY = 6
EMERGENCY_SHARE = 0.07
CANCEL_SHARE = 0.055


@dataclass
class _Case:
    """One procedure while it is being scheduled (internal)."""

    robot: int
    ptype: int
    complexity: int
    emergency: bool
    surgeon: int
    day: int
    order_key: float
    status: str = PROCEDURE_STATUSES[0]  # completed
    scheduled: int = 0
    start: int | None = None
    end: int | None = None
    learning: float = 1.0


def procedures(
    opts: Options, robot_info: dict[str, np.ndarray], downtime: list[list[tuple[int, int]]], faker: Faker
) -> tuple[Table, Table, tuple[np.ndarray, ...]]:
    """Procedures and their outcomes, plus (procedure number, robot, start ms, end ms) windows."""
    rng = stream(opts, 3)
    n = opts.procedures
    range_start = epoch_seconds(opts.start_date)
    busy = robot_info["busy"] / robot_info["busy"].sum()
    ortho_types = [i for i, t in enumerate(PROCEDURE_TYPES) if t.category == ORTHOPEDIC]
    soft_types = [i for i, t in enumerate(PROCEDURE_TYPES) if t.category != ORTHOPEDIC]
    weekdays = [d for d in range(opts.days) if (opts.start_date + dt.timedelta(days=d)).weekday() < 5]
    robots = rng.choice(opts.robots, size=n, p=busy)
    emergency = rng.random(n) < EMERGENCY_SHARE
    pick = rng.random(n)
    ortho = robot_info["orthopedic"][robots]
    ptypes = np.where(
        ortho,
        np.array(ortho_types)[(pick * len(ortho_types)).astype(int)],
        np.array(soft_types)[(pick * len(soft_types)).astype(int)],
    )
    weights = np.array([t.complexity_weights for t in PROCEDURE_TYPES])[ptypes]
    weights = weights * np.where(emergency[:, None], [0.5, 1.0, 2.0], 1.0)  # emergencies run harder
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    complexity = (rng.random(n)[:, None] > cumulative[:, :2]).sum(axis=1)
    surgeons = robot_info["facility"][robots] * SURGEONS_PER_FACILITY + rng.integers(
        0, SURGEONS_PER_FACILITY, n
    )
    days = np.where(
        emergency, rng.integers(0, opts.days, n), np.array(weekdays)[rng.integers(0, len(weekdays), n)]
    )
    order_keys = rng.random(n)
    cases = [
        _Case(int(r), int(t), int(c), bool(e), int(s), int(d), float(k))
        for r, t, c, e, s, d, k in zip(
            robots, ptypes, complexity, emergency, surgeons, days, order_keys, strict=True
        )
    ]
    # Surgeons learn: their k-th case (in time order) is faster and safer than their first.
    seen: dict[int, int] = {}
    for case in sorted(cases, key=lambda c: (c.day, c.order_key)):
        k = seen.get(case.surgeon, 0)
        seen[case.surgeon] = k + 1
        case.learning = 1.0 + 0.35 * math.exp(-k / 25)
    _schedule(cases, rng, robot_info, downtime, range_start)
    cases.sort(key=lambda c: (c.scheduled, c.robot))
    patients = _patients(opts, faker, rng, n)
    returning = rng.random(n) < 0.15  # a returning patient, or the next one of the list
    patient_pick = rng.integers(0, len(patients), n)
    procedures, outcomes = Table("surgical_procedures"), Table("procedure_outcomes")
    windows: list[tuple[int, int, int, int]] = []
    for num, case in enumerate(cases, start=1):
        fac = FACILITIES[int(robot_info["facility"][case.robot])]
        ptype = PROCEDURE_TYPES[case.ptype]
        patient = patients[int(patient_pick[num - 1]) if returning[num - 1] else num % len(patients)]
        procedures.rows.append(
            {
                "procedure_id": procedure_id(num),
                "robot_id": robot_id(case.robot),
                "facility_id": fac.facility_id,
                "surgeon_id": f"SURG-{case.surgeon + 1:04d}",
                "patient_id": patient[0],
                "patient_name": patient[1],
                "patient_birth_date": patient[2],
                "patient_zip": patient[3],
                "procedure_type": ptype.name,
                "procedure_category": ptype.category,
                "complexity": COMPLEXITIES[case.complexity],
                "is_emergency": case.emergency,
                "scheduled_start": format_instant(case.scheduled, fac),
                "actual_start": None if case.start is None else format_instant(case.start, fac),
                "actual_end": None if case.end is None else format_instant(case.end, fac),
                "status": case.status,
            }
        )
        procedures.files.append(f"procedures_{_month(case.scheduled)}")
        outcome, recorded = _outcome(case, rng, num)
        outcome["recorded_at"] = format_instant(recorded, fac)
        outcomes.rows.append(outcome)
        outcomes.files.append(f"outcomes_{_month(recorded)}")
        if case.start is not None and case.end is not None:
            windows.append((num, case.robot, case.start * 1000, case.end * 1000))
    arr = np.array(windows, dtype=np.int64).reshape(-1, 4)
    return procedures, outcomes, (arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])


def _schedule(
    cases: list[_Case],
    rng: np.random.Generator,
    robot_info: dict[str, np.ndarray],
    downtime: list[list[tuple[int, int]]],
    t0: int,
) -> None:
    """Electives chain through a robot's day from 07:30 local; emergencies come at any hour and
    take the robot when it is free. A case that would fall in the robot's maintenance downtime
    is cancelled (the robot is in the workshop)."""
    cx_minutes = (0.75, 1.0, 1.35)
    by_slot: dict[tuple[int, int], list[_Case]] = {}
    for case in cases:
        by_slot.setdefault((case.robot, case.day), []).append(case)
    for (robot, day), slot_cases in sorted(by_slot.items()):
        offset = int(FACILITIES[int(robot_info["facility"][robot])].utc_offset_hours) * HOUR
        day_start = t0 + day * DAY - offset  # local midnight in UTC
        cursor = day_start + int(7.5 * HOUR + rng.integers(0, 1_800))
        electives = sorted((c for c in slot_cases if not c.emergency), key=lambda c: c.order_key)
        emergencies = sorted((c for c in slot_cases if c.emergency), key=lambda c: c.order_key)
        for case in emergencies:
            case.scheduled = day_start + int(rng.uniform(0, 24) * HOUR)
        emergencies.sort(key=lambda c: c.scheduled)
        last_end = 0
        while electives or emergencies:
            emergency_first = bool(emergencies) and (not electives or emergencies[0].scheduled <= cursor)
            case = emergencies.pop(0) if emergency_first else electives.pop(0)
            ptype = PROCEDURE_TYPES[case.ptype]
            planned = ptype.minutes * cx_minutes[case.complexity] * float(rng.lognormal(0, 0.15)) * 60
            actual = planned * case.learning * float(rng.lognormal(0, 0.12))
            converted_p = (0.01, 0.03, 0.07)[case.complexity] * (1.6 if case.emergency else 1.0)
            if case.emergency:
                start = max(case.scheduled + int(rng.uniform(15, 60) * 60), last_end + 20 * 60)
            else:
                case.scheduled = cursor
                cursor += int(planned) + 45 * 60
                start = max(case.scheduled + int(rng.lognormal(2.0, 0.6) * 60), last_end + 25 * 60)
                if rng.random() < CANCEL_SHARE:
                    case.status = "cancelled"
                    continue
            if rng.random() < converted_p:
                actual *= 1.4
                case.status = "converted"
            end = start + max(int(actual), 15 * 60)
            if any(start < down_end and end > down_start for down_start, down_end in downtime[robot]):
                case.status = "cancelled"
                continue
            case.start, case.end = start, end
            last_end = end


def _month(epoch_s: int) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).strftime("%Y-%m")


def _weighted(table: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    names = np.array(list(table), dtype=object)
    weights = np.array(list(table.values()), dtype=float)
    return names, weights / weights.sum()


# Faker's en_US name frequency tables, drawn from in one vectorized call per column.
_FEMALE, _MALE, _LAST = (
    _weighted(t) for t in (Person.first_names_female, Person.first_names_male, Person.last_names)
)


def _patients(opts: Options, faker: Faker, rng: np.random.Generator, n: int) -> list[tuple]:
    """(MRN, name, birth date, ZIP); fewer patients than cases, so some return for more surgery."""
    count = max(1, int(n * 0.8))
    mrns = rng.choice(90_000_000, size=count, replace=False) + 10_000_000
    female = rng.random(count) < 0.5
    first = np.where(
        female, rng.choice(_FEMALE[0], size=count, p=_FEMALE[1]), rng.choice(_MALE[0], size=count, p=_MALE[1])
    )
    last = rng.choice(_LAST[0], size=count, p=_LAST[1])
    ages = np.clip(rng.normal(58, 15, count), 18, 89.9)
    very_old = rng.random(count) < 0.015  # Safe Harbor groups these as 90+
    ages[very_old] = rng.uniform(90, 101, int(very_old.sum()))
    no_name = rng.random(count) < 0.01
    no_zip = rng.random(count) < 0.02
    start = opts.start_date.toordinal()
    out = []
    for i in range(count):
        birth = dt.date.fromordinal(start - int(ages[i] * 365.25)).isoformat()
        name = None if no_name[i] else f"{first[i]} {last[i]}"
        zip_code = None if no_zip[i] else faker.zipcode()
        out.append((f"MRN{int(mrns[i]):08d}", name, birth, zip_code))
    return out


def _outcome(case: _Case, rng: np.random.Generator, num: int) -> tuple[Row, int]:
    """Outcome correlated with complexity, emergencies, conversion and the surgeon's experience."""
    ptype = PROCEDURE_TYPES[case.ptype]
    cancelled = case.status == "cancelled"
    converted = case.status == "converted"
    p_comp = (0.04, 0.09, 0.19)[case.complexity] * (1.5 if case.emergency else 1.0)
    p_comp *= (1.6 if converted else 1.0) * (1.0 + 1.5 * (case.learning - 1.0))
    severity = SEVERITIES[0]  # none
    if not cancelled and rng.random() < p_comp:
        severity = str(rng.choice(list(SEVERITIES[1:]), p=[0.62, 0.3, 0.08]))  # minor, major, critical
    cx = case.complexity
    blood = ptype.blood_loss_ml * (0.6, 1.0, 1.6)[cx] * float(rng.lognormal(0, 0.4))
    blood *= (2.5 if converted else 1.0) * (1.8 if severity in ("major", "critical") else 1.0)
    stay = ptype.stay_days * (0.8, 1.0, 1.3)[cx] * float(rng.lognormal(0, 0.3))
    stay += {"none": 0.0, "minor": 1.0, "major": 4.0, "critical": 10.0}[severity] + (
        3.0 if converted else 0.0
    )
    p_readmit = 0.03 + {"none": 0.0, "minor": 0.05, "major": 0.15, "critical": 0.3}[severity]
    success = not cancelled and severity != "critical" and not (severity == "major" and rng.random() < 0.3)
    if cancelled:
        blood, stay = 0.0, 0.0
        recorded = case.scheduled + HOUR
    else:
        recorded = int(case.end or case.scheduled) + int(stay * DAY) + 2 * HOUR
    row: Row = {
        "outcome_id": f"OUT-{num:06d}",
        "procedure_id": procedure_id(num),
        "success": success,
        "complication_occurred": severity != "none",
        "complication_severity": severity,
        "blood_loss_ml": float(round(min(blood, 9_999.0))),
        "length_of_stay_days": round(min(stay, 365.0), 1),
        "readmitted_30d": bool(not cancelled and rng.random() < p_readmit),
        "conversion_to_open": converted,
        "recorded_at": None,
    }
    return row, recorded

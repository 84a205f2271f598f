"""The fleet: robots at facilities, and their maintenance (unscheduled and emergency after failures)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from generators.catalog import (
    FACILITIES,
    FAILURE_MODES,
    MAINTENANCE_TYPES,
    ROBOT_MODELS,
    ROBOT_STATUSES,
    SCHEDULED_PARTS,
)
from generators.options import Options
from generators.records import DAY, HOUR, Table, robot_id, stream
from generators.timefmt import epoch_seconds, format_instant

TECHNICIANS = 40


def robots(opts: Options) -> tuple[Table, dict[str, np.ndarray]]:
    """The robots (every model present when there are 10 or more) and per-robot traits for later."""
    rng = stream(opts, 1)
    n = opts.robots
    weights = np.array([m.weight for m in ROBOT_MODELS])
    models = rng.choice(len(ROBOT_MODELS), size=n, p=weights / weights.sum())
    models[: min(n, len(ROBOT_MODELS))] = np.arange(min(n, len(ROBOT_MODELS)))  # every model present
    facility = np.arange(n) % len(FACILITIES)
    first_install = dt.date(2016, 1, 1).toordinal()
    last_install = opts.start_date.toordinal() - 60
    table = Table("surgical_robots")
    serials: set[str] = set()
    for i in range(n):
        model = ROBOT_MODELS[models[i]]
        fac = FACILITIES[facility[i]]
        serial = f"{model.serial_prefix}-{rng.integers(100_000, 999_999)}"
        while serial in serials:
            serial = f"{model.serial_prefix}-{rng.integers(100_000, 999_999)}"
        serials.add(serial)
        install = dt.date.fromordinal(int(rng.integers(first_install, last_install)))
        firmware = f"{model.firmware_major}.{rng.integers(0, 8)}.{rng.integers(0, 20)}"
        table.rows.append(
            {
                "robot_id": robot_id(i),
                "serial_number": serial,
                "model": model.model,
                "manufacturer": model.manufacturer,
                "facility_id": fac.facility_id,
                "facility_name": fac.name,
                "install_date": install.isoformat(),
                "firmware_version": firmware,
                "status": ROBOT_STATUSES[0],  # active
            }
        )
        table.files.append("robots")
    info = {
        "model": models,
        "facility": facility,
        "orthopedic": np.array([ROBOT_MODELS[m].orthopedic for m in models]),
        "temp_base": rng.normal(40.0, 1.5, n).round(2),
        "latency_base": rng.uniform(3.0, 6.0, n).round(3),
        "busy": rng.gamma(4.0, 1.0, n),
    }
    return table, info


def maintenance(
    opts: Options, robot_info: dict[str, np.ndarray]
) -> tuple[Table, tuple[np.ndarray, np.ndarray], list[str], list[list[tuple[int, int]]]]:
    """Service events; unscheduled and emergency ones follow a failure (their start time).

    Returns the table, the failures (robot index, start ms), each robot's status at the export
    and each robot's downtime windows (start, end in epoch seconds) when it cannot operate.
    """
    rng = stream(opts, 2)
    n, robots = opts.maintenance_logs, opts.robots
    range_start = epoch_seconds(opts.start_date)
    range_end = epoch_seconds(opts.end_date) + DAY
    kinds = rng.choice(
        list(MAINTENANCE_TYPES), size=n, p=[0.42, 0.2, 0.27, 0.11]
    )
    frailty = rng.gamma(1.5, 1.0, robots)  # some robots fail more often than others
    events: list[tuple[int, int, str]] = []  # (start_s, robot, kind)
    for kind in kinds:
        if kind in ("unscheduled", "emergency"):
            robot = int(rng.choice(robots, p=frailty / frailty.sum()))
            earliest = range_start + min(8 * DAY, (range_end - range_start) // 3)
            start = int(rng.integers(earliest, range_end - HOUR))
        else:
            robot = int(rng.integers(0, robots))
            day = int(rng.integers(0, opts.days))
            fac = FACILITIES[robot_info["facility"][robot]]
            local_hour = 6 if kind == "calibration" else 19  # before the list, or after it
            start = range_start + day * DAY + (local_hour - fac.utc_offset_hours) * HOUR
            start = min(start + int(rng.integers(0, 3_600)), range_end - 2 * HOUR)
        events.append((start, robot, str(kind)))
    events.sort()
    active, in_maintenance, retired = ROBOT_STATUSES
    status = [active] * robots
    windows: list[list[tuple[int, int]]] = [[] for _ in range(robots)]
    table = Table("robot_maintenance_logs")
    fail_robot: list[int] = []
    fail_ms: list[int] = []
    for num, (start, robot, kind) in enumerate(events, start=1):
        fac = FACILITIES[robot_info["facility"][robot]]
        hours = {
            "scheduled": rng.uniform(3, 8),
            "calibration": rng.uniform(0.5, 2.5),
            "unscheduled": rng.uniform(4, 48),
            "emergency": rng.uniform(12, 120),
        }[kind]
        end = start + int(hours * HOUR)
        failure_mode: str | None = None
        parts: str | None = SCHEDULED_PARTS[int(rng.integers(0, len(SCHEDULED_PARTS)))]
        if kind == "calibration":
            parts = None
        cost = {
            "scheduled": rng.uniform(1_500, 6_000),
            "calibration": rng.uniform(400, 1_500),
            "unscheduled": rng.uniform(4_000, 40_000),
            "emergency": rng.uniform(12_000, 150_000),
        }[kind]
        if kind in ("unscheduled", "emergency"):
            failure_mode, parts = FAILURE_MODES[int(rng.integers(0, len(FAILURE_MODES)))]
            fail_robot.append(robot)
            fail_ms.append(start * 1000)
        completed: str | None = format_instant(end, fac)
        down_hours = hours + (rng.uniform(2, 24) if kind in ("unscheduled", "emergency") else 0.0)
        windows[robot].append((start, start + int(down_hours * HOUR)))
        if end > range_end:  # still in the workshop when the export was taken
            completed = None
            down_hours = (range_end - start) / HOUR
            status[robot] = in_maintenance
        table.rows.append(
            {
                "maintenance_id": f"MAINT-{num:06d}",
                "robot_id": robot_id(robot),
                "maintenance_type": kind,
                "started_at": format_instant(start, fac),
                "completed_at": completed,
                "technician_id": f"TECH-{int(rng.integers(1, TECHNICIANS + 1)):04d}",
                "downtime_hours": round(float(down_hours), 2),
                "parts_replaced": parts,
                "cost_usd": round(float(cost), 2),
                "failure_mode": failure_mode,
            }
        )
        quarter = (dt.datetime.fromtimestamp(start, tz=dt.UTC).month - 1) // 3 + 1
        year = dt.datetime.fromtimestamp(start, tz=dt.UTC).year
        table.files.append(f"maintenance_{year}-Q{quarter}")
    if robots >= 20:  # one robot of the fleet has been retired at the export
        status[int(rng.integers(0, robots))] = retired
    failures = (np.array(fail_robot, dtype=np.int64), np.array(fail_ms, dtype=np.int64))
    return table, failures, status, windows

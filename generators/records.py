"""Shared shapes of the generated world: rows, tables, the telemetry plan, ids and random streams."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from generators.options import Options

Row = dict[str, object]
DAY = 86_400
HOUR = 3_600


@dataclass
class Table:
    """Rows of one entity plus the file stem each row is written to."""

    entity: str
    rows: list[Row] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


@dataclass
class TelemetryPlan:
    """What telemetry needs from the transactional world (one entry per procedure with telemetry)."""

    procedure_num: np.ndarray  # int64, the number in PROC-000123
    robot_idx: np.ndarray  # int64, 0-based robot index
    start_ms: np.ndarray  # int64 epoch ms (actual_start)
    end_ms: np.ndarray  # int64 epoch ms (actual_end)
    robot_temp_base: np.ndarray  # per robot, deg C
    robot_latency_base: np.ndarray  # per robot, ms
    robot_facility: np.ndarray  # per robot, index into FACILITIES
    failure_robot: np.ndarray  # per unscheduled/emergency maintenance: robot index
    failure_ms: np.ndarray  # and its start (epoch ms)


def robot_id(idx: int) -> str:
    return f"ROBOT-{idx + 1:04d}"


def procedure_id(num: int) -> str:
    return f"PROC-{num:06d}"


def stream(opts: Options, number: int) -> np.random.Generator:
    """An independent random stream per table, so one table's size never shifts another's."""
    return np.random.default_rng([opts.seed, number])

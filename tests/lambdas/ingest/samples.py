"""Tiny hand-written source files whose outcome the tests compute by hand."""

from __future__ import annotations

import json
from collections.abc import Sequence

from lake.contract import ENTITIES

ROBOT_HEADER = ",".join(ENTITIES["surgical_robots"].column_names)
PROC_HEADER = ",".join(ENTITIES["surgical_procedures"].column_names)
OUTCOME_HEADER = ",".join(ENTITIES["procedure_outcomes"].column_names)
MAINT_HEADER = ",".join(ENTITIES["robot_maintenance_logs"].column_names)


def robot(n: int, status: str = "active", facility: str = "FAC-001") -> str:
    return f"ROBOT-{n:04d},SN-{n:06d},Xi,Intuitive,{facility},General Hospital,2020-01-0{1 + n % 8},4.2.1,{status}"


def procedure(n: int, robot_n: int = 1, mrn: str = "MRN00000001", name: str = "Jane Roe",
              birth: str = "1960-05-17", zip_: str = "02139", start: str = "2025-03-03T08:00:00Z",
              status: str = "completed") -> str:
    return (f"PROC-{n:06d},ROBOT-{robot_n:04d},FAC-001,SURG-0001,{mrn},{name},{birth},{zip_},prostatectomy,"
            f"urology,high,false,{start},2025-03-03T08:10:00Z,2025-03-03T10:00:00Z,{status}")


def outcome(n: int, proc_n: int) -> str:
    return f"OUT-{n:06d},PROC-{proc_n:06d},true,false,none,150.5,2,false,false,2025-03-04T09:00:00Z"


def maintenance(n: int, robot_n: int = 1) -> str:
    return (f"MAINT-{n:06d},ROBOT-{robot_n:04d},scheduled,2025-02-01T08:00:00Z,2025-02-01T12:00:00Z,TECH-0001,"
            f"4,arm;cable,1200.5,")


def csv_file(header: str, rows: list[str]) -> str:
    return header + "\n" + "\n".join(rows) + "\n"


def telemetry(i: int, robot_n: int = 1, proc_n: int = 1, ts: str = "2025-03-03T08:15:00.250Z",
              **overrides: object) -> dict:
    row = {
        "telemetry_id": f"00000000-0000-4000-8000-{i:012d}", "procedure_id": f"PROC-{proc_n:06d}",
        "robot_id": f"ROBOT-{robot_n:04d}", "timestamp": ts, "arm_id": 1 + i % 4, "joint_angle_deg": 12.5,
        "force_newtons": 3.25, "torque_nm": -1.5, "motor_temp_c": 41.0, "latency_ms": 1.2, "error_code": None,
    }
    row.update(overrides)
    return row


def ndjson(rows: Sequence[dict | str]) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)

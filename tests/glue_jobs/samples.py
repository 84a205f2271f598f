"""Telemetry samples and lake files for the Glue job tests, laid out as the ingest writes them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from lake.contract import ENTITIES, PROCEDURE_WINDOWS, arrow_schema, lake_data_columns

TELEMETRY = ENTITIES["procedure_telemetry"]
SAMPLE_SCHEMA = arrow_schema(lake_data_columns(TELEMETRY.columns, TELEMETRY.partition_keys))
WINDOW_SCHEMA = arrow_schema(PROCEDURE_WINDOWS.columns)


def sample(n: int, robot: str, ts: dt.datetime, *, arm: int = 1, force: float = 10.0, torque: float = 1.0,
           temp: float = 40.0, latency: float = 5.0, error: str | None = None) -> dict:
    return {
        "telemetry_id": f"00000000-0000-4000-8000-{n:012d}",
        "procedure_id": "PROC-000001",
        "robot_id": robot,
        "timestamp": ts,
        "arm_id": arm,
        "joint_angle_deg": 0.0,
        "force_newtons": force,
        "torque_nm": torque,
        "motor_temp_c": temp,
        "latency_ms": latency,
        "error_code": error,
    }


def write(root: Path, rows: list[dict], name: str) -> None:
    """Write samples the way ingest lays them out: date=/robot_id= folders, one file per call."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["timestamp"].date().isoformat(), row["robot_id"]), []).append(row)
    for (day, robot), group in groups.items():
        folder = root / "procedure_telemetry" / f"date={day}" / f"robot_id={robot}"
        folder.mkdir(parents=True, exist_ok=True)
        data = [{k: v for k, v in r.items() if k != "robot_id"} for r in group]
        pq.write_table(pa.Table.from_pylist(data, schema=SAMPLE_SCHEMA), folder / f"{name}.parquet")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A UTC time in March 2024."""
    return dt.datetime(2024, 3, day, hour, minute, tzinfo=dt.UTC)


def table(root: Path, name: str) -> list[dict]:
    part = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
    return ds.dataset(root / name, format="parquet", partitioning=part).to_table().to_pylist()


def files(root: Path, name: str) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in (root / name).rglob("*.parquet")
    }




def write_windows(root: Path, windows: list[tuple[str, str, dt.datetime, dt.datetime]], name: str = "part-0") -> None:
    """Procedure windows (procedure_id, robot_id, start, end) under every UTC date they overlap."""
    by_date: dict[str, list[dict]] = {}
    for procedure_id, robot_id, start, end in windows:
        day = start.date()
        while day <= (end - dt.timedelta(microseconds=1)).date():
            row = {"procedure_id": procedure_id, "robot_id": robot_id, "actual_start": start, "actual_end": end}
            by_date.setdefault(day.isoformat(), []).append(row)
            day += dt.timedelta(days=1)
    for date, rows in by_date.items():
        folder = root / "_reference" / "procedure_windows" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=WINDOW_SCHEMA), folder / f"{name}.parquet")

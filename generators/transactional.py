"""The small, realistic tables: robots, maintenance logs, procedures (with PHI) and outcomes.

`build_world` ties the fleet (generators/fleet.py) and the clinical tables
(generators/clinical.py) together. Rows are dicts keyed by contract column names holding the
values a facility would send (timestamps already as ISO 8601 text in the facility's style).
The same pass keeps what the telemetry generator needs (procedure windows, robot baselines,
failure times) as NumPy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

from faker import Faker

from generators import clinical, fleet
from generators.options import Options
from generators.records import Table, TelemetryPlan


@dataclass
class World:
    robots: Table
    procedures: Table
    outcomes: Table
    maintenance: Table
    telemetry: TelemetryPlan


def build_world(opts: Options) -> World:
    """All transactional tables and the telemetry plan for these options."""
    faker = Faker("en_US")
    faker.seed_instance(opts.seed)
    robots, robot_info = fleet.robots(opts)
    maintenance, failures, robot_status, downtime = fleet.maintenance(opts, robot_info)
    for row, status in zip(robots.rows, robot_status, strict=True):
        row["status"] = status
    procedures, outcomes, windows = clinical.procedures(opts, robot_info, downtime, faker)
    telemetry = TelemetryPlan(
        procedure_num=windows[0],
        robot_idx=windows[1],
        start_ms=windows[2],
        end_ms=windows[3],
        robot_temp_base=robot_info["temp_base"],
        robot_latency_base=robot_info["latency_base"],
        robot_facility=robot_info["facility"],
        failure_robot=failures[0],
        failure_ms=failures[1],
    )
    return World(robots, procedures, outcomes, maintenance, telemetry)

"""The README's data-model tables are exactly what `python -m lake.docs` renders from the contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lake.contract import ENTITIES
from lake.docs import render, render_reasons

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- section:data-model -->"


def _section(readme: str, marker: str = MARKER) -> str:
    """README text from a section marker to the next second-level heading."""
    start = readme.index(marker) + len(marker)
    end = readme.find("\n## ", start)
    return readme[start : end if end != -1 else len(readme)]


def test_readme_embeds_the_rendered_contract() -> None:
    # GIVEN the README and the tables rendered from lake/contract.py
    section = _section((ROOT / "README.md").read_text())
    # THEN the section holds them verbatim (regenerate with `python -m lake.docs`)
    assert render() in section, "README data-model section is stale: paste `python -m lake.docs` output"


def test_render_lists_every_column_with_its_rules() -> None:
    # WHEN rendering
    text = render()
    # THEN each entity has a table and each column a row; rules and privacy come from the contract
    for entity in ENTITIES.values():
        assert f"#### `{entity.name}`" in text
        for col in entity.columns:
            assert f"| `{col.name}` | {col.description} | {col.dtype.value} |" in text
    assert "| `motor_temp_c` | Motor temperature | float | no | -20 … 150 |  |" in text
    assert "direct identifier, HMAC-SHA256 → `patient_key`" in text
    assert "`E[0-9]{3}`" in text


# Written by hand from lake/contract.py (not from the renderer): the entity with every kind of rule.
PROCEDURES_TABLE = """#### `surgical_procedures`

One surgical operation performed with a robot. Carries PHI, also once stored. Lands in RDS; primary key `procedure_id`.

| column | description | type | nullable | rule | privacy |
|---|---|---|---|---|---|
| `procedure_id` | Procedure identifier | string | no | primary key; `PROC-[0-9]{6}` |  |
| `robot_id` | Robot used | string | no | → `surgical_robots.robot_id` (parks until it arrives); `ROBOT-[0-9]{4}` |  |
| `facility_id` | Facility where it took place | string | no | `FAC-[0-9]{3}` |  |
| `surgeon_id` | Surgeon identifier (staff, not PHI) | string | no | `SURG-[0-9]{4}` |  |
| `patient_id` | Medical record number (MRN) | string | no | `MRN[0-9]{8}` | direct identifier, HMAC-SHA256 → `patient_key` |
| `patient_name` | Patient full name | string | yes |  | direct identifier, dropped |
| `patient_birth_date` | Patient date of birth | date | no |  | quasi identifier, → `patient_age_at_procedure` + `patient_age_90_plus` (no birth year) |
| `patient_zip` | Patient 5-digit ZIP code | string | yes | `[0-9]{5}` | quasi identifier, → `patient_zip3` (first 3 digits, `000` for the 17 restricted prefixes) |
| `procedure_type` | Procedure type, e.g. prostatectomy | string | no |  |  |
| `procedure_category` | Specialty, e.g. urology | string | no |  |  |
| `complexity` | Planned complexity | string | no | `low` / `medium` / `high` |  |
| `is_emergency` | Unplanned emergency case | bool | no |  |  |
| `scheduled_start` | Scheduled start | timestamp | no | ISO 8601, naive = UTC |  |
| `actual_start` | Actual start (incision) | timestamp | yes | ISO 8601, naive = UTC |  |
| `actual_end` | Actual end (closure) | timestamp | yes | >= `actual_start`; ISO 8601, naive = UTC |  |
| `status` | Outcome of the booking | string | no | `completed` / `cancelled` / `converted` |  |
"""


def test_module_prints_the_tables_a_reader_expects() -> None:
    # WHEN run as `python -m lake.docs`
    done = subprocess.run(
        [sys.executable, "-m", "lake.docs"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # THEN stdout holds the hand-written procedures table (PHI outputs, FK, row check, enum) ...
    assert PROCEDURES_TABLE + "\n" in done.stdout
    # ... one table per entity, in the contract's order, and it is what the README embeds
    assert [line for line in done.stdout.splitlines() if line.startswith("#### ")] == [
        "#### `surgical_robots`", "#### `surgical_procedures`", "#### `procedure_outcomes`",
        "#### `robot_maintenance_logs`", "#### `procedure_telemetry`"]
    assert done.stdout in _section((ROOT / "README.md").read_text())


def test_readme_ingest_section_embeds_every_rejection_reason_of_the_contract() -> None:
    # GIVEN the README's Ingest section and the reasons rendered from lake/contract.py
    section = _section((ROOT / "README.md").read_text(), "<!-- section:ingest -->")
    # THEN it holds them verbatim (regenerate with `python -m lake.docs --reasons`)
    assert render_reasons() in section, "README ingest reasons are stale: paste `python -m lake.docs --reasons`"
    done = subprocess.run([sys.executable, "-m", "lake.docs", "--reasons"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout == render_reasons()

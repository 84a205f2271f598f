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


def test_module_prints_the_same_tables() -> None:
    # WHEN run as `python -m lake.docs`
    done = subprocess.run(
        [sys.executable, "-m", "lake.docs"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # THEN stdout is the rendering
    assert done.stdout == render()


def test_readme_ingest_section_embeds_every_rejection_reason_of_the_contract() -> None:
    # GIVEN the README's Ingest section and the reasons rendered from lake/contract.py
    section = _section((ROOT / "README.md").read_text(), "<!-- section:ingest -->")
    # THEN it holds them verbatim (regenerate with `python -m lake.docs --reasons`)
    assert render_reasons() in section, "README ingest reasons are stale: paste `python -m lake.docs --reasons`"
    done = subprocess.run([sys.executable, "-m", "lake.docs", "--reasons"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout == render_reasons()

"""The house's floors (ADR 0013): which top-level area may import which.

`lake/` (the domain core) is the ground and imports nothing of the repository; the CLI (`cli/`)
is the top and nothing imports it. An import outside this table is a design change: make it in
the table and the ADR, not only in the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# area -> the other areas it may import (from the ground up)
MAY_IMPORT: dict[str, set[str]] = {
    "lake": set(),
    "lambdas": {"lake"},
    "glue_jobs": {"lake"},
    "generators": {"lake", "lambdas"},  # lambdas.ingest.prefetch
    "api": {"lake", "lambdas"},  # lambdas.rds_tls
    "infra": {"lake", "lambdas", "api"},  # what it deploys
    "local": {"lake", "lambdas", "glue_jobs", "generators", "api", "infra"},  # runs them on one machine
    "verify": {"lake", "generators", "local"},
    "bench": {"lake", "lambdas", "glue_jobs", "generators", "api", "infra", "local"},
    "cli": {"lake", "generators", "api", "local", "verify"},
}


def imported_areas(path: Path) -> set[str]:
    """Top-level areas of this repository a module imports (absolute imports, lazy ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(MAY_IMPORT)


def test_every_area_imports_only_the_floors_below_it():
    # GIVEN every module of every area WHEN its imports are read
    wrong = [
        f"{path.relative_to(ROOT)} imports {sorted(extra)}"
        for area, allowed in MAY_IMPORT.items()
        for path in sorted((ROOT / area).rglob("*.py"))
        if (extra := imported_areas(path) - allowed - {area})
    ]
    # THEN none reaches up (or sideways) past the table
    assert wrong == []


def test_the_table_has_no_cycle():
    # GIVEN the table WHEN its areas are ordered ground first THEN every area finds a floor
    placed: list[str] = []
    while len(placed) < len(MAY_IMPORT):
        ready = [a for a, deps in MAY_IMPORT.items() if a not in placed and deps <= set(placed)]
        assert ready, f"a cycle among {sorted(set(MAY_IMPORT) - set(placed))}"
        placed += ready
    assert placed[0] == "lake" and placed[-1] == "cli"


def test_the_check_sees_a_lazy_import(tmp_path: Path):
    # GIVEN a module that imports the CLI inside a function (the way lake/cli.py once hid its imports)
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from cli.main import main\n    import local.stack\n")
    # THEN the check finds both
    assert imported_areas(module) == {"cli", "local"}

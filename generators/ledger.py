"""The expected ingest outcome of everything written: manifest counts and the ground truth."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from generators.defects import Defect
from generators.options import Options
from lake.contract import ENTITIES, GROUND_TRUTH_FILE, MANIFEST_FILE

STATUSES = ("loaded", "parked", "rejected")


@dataclass
class EntityCounts:
    files: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    defects: Counter[str] = field(default_factory=Counter)
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)

    def as_manifest(self) -> dict[str, object]:
        out: dict[str, object] = {
            "files": sorted(self.files),
            "rows_in": sum(self.outcomes[s] for s in STATUSES),
            **{s: self.outcomes[s] for s in STATUSES},
            "defects": dict(sorted(self.defects.items())),
        }
        if self.unknown_columns:
            out["unknown_columns"] = dict(sorted(self.unknown_columns.items()))
        return out


@dataclass
class Ledger:
    """Collects row outcomes per entity and one ground-truth line per injected defect."""

    entities: dict[str, EntityCounts] = field(
        default_factory=lambda: {name: EntityCounts() for name in ENTITIES}
    )
    truth: list[dict[str, object]] = field(default_factory=list)

    def add_file(self, entity: str, key: str) -> None:
        self.entities[entity].files.append(key)

    def add_rows(self, entity: str, status: str, count: int = 1) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown row status {status!r}")
        self.entities[entity].outcomes[status] += count

    def add_defect(self, key: str, entity: str, line: int, defect: Defect) -> None:
        self.entities[entity].defects[defect.kind] += 1
        self.truth.append(
            {
                "file": key,
                "entity": entity,
                "line": line,
                "column": defect.column,
                "kind": defect.kind,
                "expected": defect.expected(ENTITIES[entity]),
            }
        )

    def write(self, out: Path, opts: Options) -> None:
        manifest = {
            "generator": opts.as_manifest(),
            "entities": {name: counts.as_manifest() for name, counts in self.entities.items()},
        }
        (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        truth = sorted(self.truth, key=lambda t: (str(t["file"]), str(t["line"]).zfill(12)))
        lines = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in truth)
        (out / GROUND_TRUTH_FILE).write_text(lines)

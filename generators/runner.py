"""`generate()`: build the world, write every entity's files, then the manifest and ground truth."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from generators.errors import GeneratorError
from generators.ledger import Ledger
from generators.options import Options
from generators.tables import write_table
from generators.telemetry_files import write_telemetry
from generators.transactional import build_world
from lake.contract import ENTITIES, GROUND_TRUTH_FILE, LOAD_ORDER, MANIFEST_FILE


@dataclass(frozen=True)
class Summary:
    out: Path
    rows: dict[str, int]
    files: int
    bytes: int


def prepare_output(out: Path) -> None:
    """Create `out`, or clear a previous generator run in it; refuse any other non-empty folder."""
    if out.exists() and not out.is_dir():
        raise GeneratorError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST_FILE).exists():
            raise GeneratorError(
                f"{out} is not empty and holds no {MANIFEST_FILE} from an earlier `lake generate`; "
                "choose an empty or new folder"
            )
        for name in ENTITIES:
            shutil.rmtree(out / name, ignore_errors=True)
        for name in (MANIFEST_FILE, GROUND_TRUTH_FILE):
            (out / name).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GeneratorError(f"cannot create {out}: {exc.strerror}") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise GeneratorError(f"cannot write to {out}: permission denied")


def generate(opts: Options, out: Path, progress: bool | None = None) -> Summary:
    """Write the raw files for `opts` under `out`; `progress=None` shows a bar on a terminal only."""
    prepare_output(out)
    try:
        return _generate(opts, out, progress)
    except OSError as exc:
        raise GeneratorError(f"cannot write under {out}: {exc.strerror or exc}") from exc


def _generate(opts: Options, out: Path, progress: bool | None) -> Summary:
    disable = None if progress is None else not progress  # None: only on a terminal
    transactional = opts.robots + opts.maintenance_logs + 2 * opts.procedures
    total = transactional + opts.procedures * opts.samples_per_procedure  # an upper bound for telemetry
    with tqdm(total=total, unit="rows", unit_scale=True, desc="tables", disable=disable) as bar:
        world = build_world(opts)
        ledger = Ledger()
        tables = {
            "surgical_robots": world.robots,
            "surgical_procedures": world.procedures,
            "procedure_outcomes": world.outcomes,
            "robot_maintenance_logs": world.maintenance,
        }
        statuses: dict[str, dict[str, str]] = {}
        for number, name in enumerate(LOAD_ORDER):  # parents first: children need their outcome
            rng = np.random.default_rng([opts.seed, 9, number])
            write_table(
                tables[name], out, opts, ledger, statuses, rng, np.random.default_rng([opts.seed, 11])
            )
            bar.update(len(tables[name].rows))
        bar.total = transactional + len(world.telemetry.start_ms) * opts.samples_per_procedure
        bar.set_description("telemetry")
        for rows in write_telemetry(world.telemetry, out, opts, ledger):
            bar.update(rows)
    ledger.write(out, opts)
    files = [p for p in out.rglob("*") if p.is_file()]
    return Summary(
        out=out,
        rows={name: sum(c.outcomes.values()) for name, c in ledger.entities.items()},
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
    )

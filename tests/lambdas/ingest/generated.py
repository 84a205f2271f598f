"""Run the real generator into a folder and push its files through the ingest in a chosen order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli.main import main
from lake.contract import GROUND_TRUTH_FILE, LOAD_ORDER, MANIFEST_FILE
from tests.lambdas.ingest.conftest import Lake

BATCH_SIZE = 10  # the event source mapping's batch size


def generate(out: Path, *args: str) -> Path:
    assert main(["generate", "--out", str(out), "--quiet", "--scale", "tiny", *args]) == 0
    return out


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST_FILE).read_text())


def ground_truth(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / GROUND_TRUTH_FILE).read_text().splitlines() if line]


def data_files(folder: Path) -> list[str]:
    """Raw keys, parents first (the order a producer would usually upload them in)."""
    order = {name: i for i, name in enumerate((*LOAD_ORDER, "procedure_telemetry"))}
    keys = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
            and not p.name.startswith(("_", "."))]
    return sorted(keys, key=lambda k: (order[k.split("/", 1)[0]], k))


def ingest_files(lake: Lake, folder: Path, keys: list[str]) -> list[dict[str, Any]]:
    """Upload in this order, then feed S3's notifications to the handler in Lambda-sized batches."""
    for key in keys:
        lake.put(key, (folder / key).read_bytes())
    event = lake.drain_queue()
    responses = []
    records = event["Records"]
    for start in range(0, len(records), BATCH_SIZE):
        responses.append(lake.invoke({"Records": records[start:start + BATCH_SIZE]}))
    return responses

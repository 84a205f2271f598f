"""Where local mode keeps its state between invocations.

moto keeps everything in memory, so what must survive a restart lives in the workdir:
the PostgreSQL cluster, a mirror of every bucket, the messages left in the queues, the HMAC
key (generated once), the stack's ports while it runs and a log of runs.

Layout::

    WORKDIR/postgres/        throwaway PostgreSQL cluster (local/postgres.py)
    WORKDIR/s3/<bucket>/...  bucket mirror; the processed mirror is the lake DuckDB/Spark read
    WORKDIR/state/           hmac.key, queues.json, s3-index.json, stack.json, runs.jsonl,
                             alerts.ndjson (alert events), as_of.json (the views' "now")
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_WORKDIR = Path(".lake")


@dataclass(frozen=True)
class Workdir:
    root: Path

    @classmethod
    def at(cls, path: str | Path | None) -> Workdir:
        root = Path(path or DEFAULT_WORKDIR).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        (root / "state").mkdir(exist_ok=True)
        (root / "s3").mkdir(exist_ok=True)
        return cls(root)

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def s3_dir(self) -> Path:
        return self.root / "s3"

    def bucket_dir(self, bucket: str) -> Path:
        return self.s3_dir / bucket

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def s3_index_file(self) -> Path:
        return self.state_dir / "s3-index.json"

    @property
    def queues_file(self) -> Path:
        return self.state_dir / "queues.json"

    @property
    def stack_file(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def alerts_file(self) -> Path:
        """Every alert event local mode raised, one JSON object (the event detail) per line."""
        return self.state_dir / "alerts.ndjson"

    @property
    def as_of_file(self) -> Path:
        """Which "now" the analytics views use here (absent: the current time)."""
        return self.state_dir / "as_of.json"

    @property
    def runs_file(self) -> Path:
        return self.state_dir / "runs.jsonl"

    def hmac_key(self) -> str:
        """The pseudonymization key: random on first use, then the same for this workdir.

        Keeping it stable matters: patient keys in RDS must stay joinable across runs.
        """
        path = self.state_dir / "hmac.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip()

    def read_json(self, path: Path, default: Any) -> Any:
        return json.loads(path.read_text()) if path.exists() else default

    def write_json(self, path: Path, value: Any) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True))
        tmp.replace(path)

    def append_run(self, record: dict[str, Any]) -> None:
        with self.runs_file.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def last_runs(self, n: int = 5) -> list[dict[str, Any]]:
        if not self.runs_file.exists():
            return []
        lines = self.runs_file.read_text().splitlines()
        return [json.loads(line) for line in lines[-n:] if line.strip()]

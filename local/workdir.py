"""Where local mode keeps its state between invocations.

moto keeps everything in memory, so what must survive a restart lives in the workdir:
the PostgreSQL cluster, a mirror of every bucket, the messages left in the queues, the HMAC
key (generated once), the stack's ports while it runs and a log of runs.

Layout::

    WORKDIR/postgres/        throwaway PostgreSQL cluster (local/stack/postgres_server.py)
    WORKDIR/s3/<bucket>/...  bucket mirror; the processed mirror is the lake DuckDB/Spark read
    WORKDIR/state/           hmac.key, db-roles.json, queues.json, s3-index.json, stack.json, runs.jsonl

Everything in it is owner-only (directories 0700, files 0600): the HMAC key re-identifies every
patient_key, db-roles.json and stack.json hold database passwords, the bucket mirror and the
database hold PHI. Opening a workdir sets the process umask to 077 so whatever local mode writes
(mirror, moto and Spark output, reports) follows. Run as root, the PostgreSQL server runs as
`postgres`, so the workdir root also gets the traverse-only bit (x) that user needs to reach its
own 0700 directory; nothing is readable or listable by anyone else.
    WORKDIR/state/           hmac.key, queues.json, s3-index.json, stack.json, runs.jsonl,
                             alerts.ndjson (alert events), as_of.json (the views' "now")
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lake.db_roles import ROLES
from local.exceptions import InputError

DEFAULT_WORKDIR = Path(".lake")


@dataclass(frozen=True)
class Workdir:
    root: Path

    @classmethod
    def at(cls, path: str | Path | None) -> Workdir:
        os.umask(0o077)
        root = Path(path or DEFAULT_WORKDIR).expanduser().resolve()
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (root, root / "state", root / "s3"):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)  # also tightens a workdir an older version created
        for leftover in (root / "state").iterdir():
            if leftover.is_file():
                os.chmod(leftover, 0o600)
        return cls(root)

    @classmethod
    def existing(cls, path: str | Path | None) -> Workdir:
        """`at` for the commands that only read a local lake (query, status, alerts, redrive):
        raises InputError, and creates nothing, when no command has made a workdir there."""
        root = Path(path or DEFAULT_WORKDIR).expanduser().resolve()
        if not (root / "state").is_dir():
            raise InputError(no_lake_yet(root))
        return cls.at(root)

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
            with _owner_only(path, os.O_EXCL) as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip()

    def db_role_passwords(self) -> dict[str, str]:
        """Passwords of the database roles (`lake.db_roles`), random on first use (owner-only file)."""
        path = self.state_dir / "db-roles.json"
        stored: dict[str, str] = self.read_json(path, {})
        wanted = {role.name: stored.get(role.name) or secrets.token_urlsafe(32) for role in ROLES}
        if wanted != stored:
            self.write_json(path, wanted)
        return wanted

    def read_json(self, path: Path, default: Any) -> Any:
        return json.loads(path.read_text()) if path.exists() else default

    def write_json(self, path: Path, value: Any) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with _owner_only(tmp, os.O_TRUNC) as fh:
            fh.write(json.dumps(value, indent=2, sort_keys=True))
        tmp.replace(path)

    def append_run(self, record: dict[str, Any]) -> None:
        with _owner_only(self.runs_file, os.O_APPEND) as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def last_runs(self, n: int = 5) -> list[dict[str, Any]]:
        if not self.runs_file.exists():
            return []
        lines = self.runs_file.read_text().splitlines()
        return [json.loads(line) for line in lines[-n:] if line.strip()]


def _owner_only(path: Path, flags: int) -> IO[str]:
    """Open `path` for writing, created 0600 whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w")


def no_lake_yet(root: Path) -> str:
    return (f"{root} holds no local lake yet: run `lake demo --workdir {root}` or "
            f"`lake run --input DIR --workdir {root}` first")

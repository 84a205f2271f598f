"""What `lake verify` expects, and the checks it prints: pure functions of the generator's manifest.

Every upload of a verification run sits under its own marker (`<entity>/verify-<run id>/<file>`,
still routed by its first segment), and every count is scoped to that marker, so a stack that
already holds data, or an earlier verification, does not disturb the numbers: transactional rows
by their lineage column `src_key` (a newer upload of the same key wins, so every row of this run
carries its key), lake rows by the Parquet file names the ingest derives from the source key.

Example:
    >>> run = VerifyRun.new(manifest, files)
    >>> run.key("surgical_robots/robots.csv")
    'surgical_robots/verify-20260101T120000Z-a1b2/robots.csv'
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lake.contract import LOAD_ORDER, PROCEDURE_TELEMETRY, LedgerStatus
from lake.layout import lake_file_name  # the writer's own naming rule

MARKER_PREFIX = "verify-"
# Ledger statuses of an object whose rows all found a place.
FINISHED = (LedgerStatus.LOADED.value, LedgerStatus.PARTIAL.value)


class VerifyError(RuntimeError):
    """The verification cannot run (no stack, no credentials, a busy workdir): one clear line."""


@dataclass(frozen=True)
class Check:
    """One printed line: what was checked, what the manifest says, what the engine answered."""

    name: str
    expected: object
    actual: object

    @property
    def passed(self) -> bool:
        return self.expected == self.actual

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.name}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True)
class VerifyRun:
    """The generated files of one verification and the keys they are uploaded under."""

    run_id: str
    manifest: Mapping[str, Any]
    files: tuple[tuple[Path, str], ...]  # (local path, generator's relative key), parents first

    @classmethod
    def new(cls, manifest: Mapping[str, Any], files: Sequence[tuple[Path, str]],
            now: dt.datetime | None = None) -> VerifyRun:
        stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
        return cls(f"{stamp}-{secrets.token_hex(2)}", manifest, tuple(files))

    @property
    def marker(self) -> str:
        return f"/{MARKER_PREFIX}{self.run_id}/"

    def key(self, relative: str) -> str:
        """`<entity>/<rest>` -> `<entity>/verify-<run id>/<rest>` (the entity still routes it)."""
        entity, _, rest = relative.partition("/")
        return f"{entity}{self.marker}{rest}"

    @property
    def uploads(self) -> list[tuple[Path, str]]:
        return [(path, self.key(relative)) for path, relative in self.files]

    def keys_of(self, entity: str) -> list[str]:
        return [key for _, key in self.uploads if key.startswith(f"{entity}/")]

    def expected(self, entity: str, field: str) -> int:
        return int(self.manifest["entities"][entity][field])

    def total(self, field: str) -> int:
        return sum(int(e[field]) for e in self.manifest["entities"].values())


def like_marker(run: VerifyRun) -> str:
    """A SQL LIKE pattern for keys of this run (run ids hold only [0-9A-Za-z-])."""
    return f"%{run.marker}%"


def rds_count_sql(entity: str, run: VerifyRun) -> str:
    """Rows of this run in an RDS table, through the federated schema (Redshift and local DuckDB)."""
    return f"SELECT count(*) FROM rds.{entity} WHERE src_key LIKE '{like_marker(run)}'"


def ledger_sql(run: VerifyRun) -> str:
    """Objects of this run in the ledger: finished ones, all, rows in, rows rejected."""
    finished = ", ".join(f"'{s}'" for s in FINISHED)
    return ("SELECT count(CASE WHEN status IN (" + finished + ") THEN 1 END), count(*),"
            " coalesce(sum(rows_in), 0), coalesce(sum(rows_rejected), 0)"
            f" FROM rds_etl.ingest_ledger WHERE object_key LIKE '{like_marker(run)}'")


def lake_file_prefixes(run: VerifyRun) -> list[str]:
    """The start of each Parquet file name the ingest writes for this run's telemetry objects."""
    return [lake_file_name(key, "checksum").removesuffix("checksum.parquet")
            for key in run.keys_of(PROCEDURE_TELEMETRY.name)]


def report(run: VerifyRun, *, uploaded: int, settled: bool, waited_s: float, dlq_before: int, dlq_after: int,
           rds_rows: Mapping[str, int], ledger: Sequence[int], lake_rows: int) -> list[Check]:
    """The checks of one verification, in the order they are printed."""
    files = len(run.files)
    return [
        Check("files uploaded to the raw bucket", files, uploaded),
        Check(f"ingest queue drained (waited {waited_s:.0f} s)", True, settled),
        Check("no new message in the DLQ", dlq_before, dlq_after),
        Check("ledger: objects finished / recorded", (files, files), (ledger[0], ledger[1])),
        Check("ledger: rows in", run.total("rows_in"), ledger[2]),
        Check("ledger: rows rejected", run.total("rejected"), ledger[3]),
        *(Check(f"rows in {entity}", run.expected(entity, "loaded"), rds_rows[entity]) for entity in LOAD_ORDER),
        Check(f"rows in the lake table {PROCEDURE_TELEMETRY.name}", run.expected(PROCEDURE_TELEMETRY.name, "loaded"),
              lake_rows),
    ]

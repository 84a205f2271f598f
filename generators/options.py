"""What to generate: named scales, flag overrides and their validation."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from generators.errors import GeneratorError

DEFAULT_SEED = 42
DEFAULT_START = dt.date(2025, 1, 1)
MAX_PROCEDURES = 899_999  # PROC-900000.. stays free for orphan keys
FORMATS = ("csv", "ndjson")


@dataclass(frozen=True)
class Scale:
    robots: int
    maintenance_logs: int
    procedures: int
    samples_per_procedure: int
    days: int


SCALES: dict[str, Scale] = {
    "tiny": Scale(robots=5, maintenance_logs=20, procedures=100, samples_per_procedure=100, days=30),
    "default": Scale(robots=50, maintenance_logs=200, procedures=5_000, samples_per_procedure=100, days=181),
    "large": Scale(
        robots=500, maintenance_logs=2_000, procedures=50_000, samples_per_procedure=100, days=181
    ),
}


@dataclass(frozen=True)
class Options:
    """Resolved generator settings; `as_manifest()` is what `_manifest.json` records."""

    seed: int = DEFAULT_SEED
    scale: str = "default"
    robots: int = SCALES["default"].robots
    maintenance_logs: int = SCALES["default"].maintenance_logs
    procedures: int = SCALES["default"].procedures
    samples_per_procedure: int = SCALES["default"].samples_per_procedure
    days: int = SCALES["default"].days
    start_date: dt.date = DEFAULT_START
    dirty_rate: float = 0.0
    format: str = "csv"
    gzip: bool = False

    @property
    def end_date(self) -> dt.date:
        """Last day of the range (inclusive)."""
        return self.start_date + dt.timedelta(days=self.days - 1)

    def as_manifest(self) -> dict[str, object]:
        out = asdict(self)
        out["start_date"] = self.start_date.isoformat()
        return out


def resolve(
    scale: str = "default",
    *,
    seed: int = DEFAULT_SEED,
    procedures: int | None = None,
    samples_per_procedure: int | None = None,
    dirty_rate: float = 0.0,
    fmt: str = "csv",
    gzip: bool = False,
    start_date: dt.date = DEFAULT_START,
) -> Options:
    """Options for a named scale with flag overrides, or GeneratorError on bad values."""
    if scale not in SCALES:
        raise GeneratorError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    base = SCALES[scale]
    procs = base.procedures if procedures is None else procedures
    spp = base.samples_per_procedure if samples_per_procedure is None else samples_per_procedure
    if not 1 <= procs <= MAX_PROCEDURES:
        raise GeneratorError(f"--procedures must be between 1 and {MAX_PROCEDURES}, got {procs}")
    if not 0 <= spp <= 100_000:
        raise GeneratorError(f"--samples-per-procedure must be between 0 and 100000, got {spp}")
    if not 0.0 <= dirty_rate <= 0.5:
        raise GeneratorError(f"--dirty-rate must be between 0 and 0.5 (a share of rows), got {dirty_rate}")
    if fmt not in FORMATS:
        raise GeneratorError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if seed < 0:
        raise GeneratorError(f"--seed must be >= 0, got {seed}")
    return Options(
        seed=seed,
        scale=scale,
        robots=base.robots,
        maintenance_logs=base.maintenance_logs,
        procedures=procs,
        samples_per_procedure=spp,
        days=base.days,
        start_date=start_date,
        dirty_rate=dirty_rate,
        format=fmt,
        gzip=gzip,
    )

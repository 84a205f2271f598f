"""Generator throughput: `python -m bench.generate [--large] [--repeats 3]`.

Each measurement runs in a fresh subprocess (so peak RSS is its own) and is repeated; the
table shows the median. CPU seconds (user + system of that process) are printed too: on a
shared machine wall-clock rates fall with the load, rows per CPU-second much less. Paths
compared, all writing real files to a temporary folder:

- baseline: telemetry row by row with Faker (uuid4, numbers) and `json.dumps`, the naive way;
- telemetry: the vectorized telemetry stage of `lake generate` alone (NumPy -> Arrow -> polars
  NDJSON, one file per day), default scale;
- lake generate: the whole command at default scale (all five entities, manifest included);
- with `--large`: the whole command with 20,000 procedures (~1.9 M telemetry rows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_ROWS = 100_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _baseline(out: Path) -> dict[str, float]:
    """Telemetry the naive way: one Faker call per value, json.dumps per row."""
    import datetime as dt

    from faker import Faker

    fake = Faker()
    fake.seed_instance(42)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    path = out / "procedure_telemetry" / "telemetry.ndjson"
    path.parent.mkdir(parents=True)
    began, cpu = time.perf_counter(), _cpu_seconds()
    with path.open("w") as fh:
        for i in range(BASELINE_ROWS):
            row = {
                "telemetry_id": fake.uuid4(),
                "procedure_id": f"PROC-{fake.random_int(1, 5000):06d}",
                "robot_id": f"ROBOT-{fake.random_int(1, 50):04d}",
                "timestamp": (start + dt.timedelta(milliseconds=i * 250)).isoformat(timespec="milliseconds"),
                "arm_id": fake.random_int(1, 4),
                "joint_angle_deg": fake.pyfloat(min_value=-180, max_value=180, right_digits=2),
                "force_newtons": fake.pyfloat(min_value=0, max_value=40, right_digits=2),
                "torque_nm": fake.pyfloat(min_value=-20, max_value=20, right_digits=3),
                "motor_temp_c": fake.pyfloat(min_value=35, max_value=55, right_digits=2),
                "latency_ms": fake.pyfloat(min_value=1, max_value=9, right_digits=3),
                "error_code": fake.random_element(["E001", "E201"]) if fake.random_int(0, 99) == 0 else None,
            }
            fh.write(json.dumps(row) + "\n")
    seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    return {"rows": BASELINE_ROWS, "seconds": seconds, "cpu": cpu, "bytes": _folder_bytes(out)}


def _telemetry_stage(out: Path) -> dict[str, float]:
    """Only the telemetry stage of `lake generate` (the transactional world is built first)."""
    from generators.ledger import Ledger
    from generators.options import resolve
    from generators.telemetry_files import write_telemetry
    from generators.transactional import build_world

    opts = resolve("default")
    world = build_world(opts)
    began, cpu = time.perf_counter(), _cpu_seconds()
    rows = sum(write_telemetry(world.telemetry, out, opts, Ledger()))
    seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    return {"rows": rows, "seconds": seconds, "cpu": cpu, "bytes": _folder_bytes(out)}


def _whole(out: Path, procedures: int | None) -> dict[str, float]:
    """The whole `lake generate` at default scale (optionally more procedures)."""
    from generators.options import resolve
    from generators.runner import generate

    began, cpu = time.perf_counter(), _cpu_seconds()
    summary = generate(resolve("default", procedures=procedures), out / "raw", progress=False)
    seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    return {
        "rows": sum(summary.rows.values()),
        "telemetry_rows": summary.rows["procedure_telemetry"],
        "seconds": seconds,
        "cpu": cpu,
        "bytes": summary.bytes,
    }


WORKERS = {
    "baseline": lambda out: _baseline(out),
    "telemetry": lambda out: _telemetry_stage(out),
    "generate": lambda out: _whole(out, None),
    "generate-large": lambda out: _whole(out, 20_000),
}

LABELS = {
    "baseline": "telemetry, Faker + json.dumps per row (baseline)",
    "telemetry": "telemetry stage, NumPy/Arrow + polars NDJSON",
    "generate": "lake generate, default scale (all entities)",
    "generate-large": "lake generate, 20,000 procedures (all entities)",
}


def _measure(name: str, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-m", "bench.generate", "--worker", name],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    median = statistics.median(r["seconds"] for r in runs)
    chosen = min(runs, key=lambda r: abs(r["seconds"] - median))
    chosen["rss_mb"] = statistics.median(r["rss_mb"] for r in runs)
    chosen["cpu"] = statistics.median(r["cpu"] for r in runs)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per path; the median is shown (default 3)"
    )
    parser.add_argument(
        "--large", action="store_true", help="also run 20,000 procedures (~1.9 M telemetry rows)"
    )
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        with tempfile.TemporaryDirectory() as tmp:
            result = WORKERS[args.worker](Path(tmp))
        result["rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return 0
    names = ["baseline", "telemetry", "generate"] + (["generate-large"] if args.large else [])
    print(f"generator benchmark, median of {args.repeats} (each run in a fresh process)")
    print(f"machine load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    header = ("path", "rows", "s", "rows/s", "telemetry rows/s", "MB/s", "CPU s", "rows/CPU-s", "peak RSS MB")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name in names:
        r = _measure(name, args.repeats)
        tele = r.get("telemetry_rows", r["rows"])
        cells = (
            LABELS[name],
            f"{int(r['rows']):,d}",
            f"{r['seconds']:.2f}",
            f"{r['rows'] / r['seconds']:,.0f}",
            f"{tele / r['seconds']:,.0f}",
            f"{r['bytes'] / 1e6 / r['seconds']:.1f}",
            f"{r['cpu']:.2f}",
            f"{r['rows'] / r['cpu']:,.0f}",
            f"{r['rss_mb']:.0f}",
        )
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

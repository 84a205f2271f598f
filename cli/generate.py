"""`lake generate`: write realistic synthetic raw files laid out as the raw bucket's keys."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from generators.errors import GeneratorError
from generators.options import DEFAULT_SEED, DEFAULT_START, FORMATS, SCALES, resolve
from generators.runner import generate

DESCRIPTION = """\
Write synthetic surgical-robotics data as the raw bucket's keys: DIR/<entity>/<file>.
Transactional entities (robots, procedures, outcomes, maintenance logs) are CSV by default,
telemetry is NDJSON with one file per UTC day. DIR/_manifest.json records the arguments and,
per entity, the files and the exact rows_in/loaded/parked/rejected a correct ingest produces;
with --dirty-rate, DIR/_ground_truth.ndjson lists every injected defect (file, line, column,
kind, expected outcome). The same arguments always give byte-identical files.
"""

EPILOG = (
    """\
scales (robots / maintenance logs / procedures / samples per procedure / days):
"""
    + "\n".join(
        f"  {name:8s} {s.robots} / {s.maintenance_logs} / {s.procedures} / "
        f"{s.samples_per_procedure} / {s.days}"
        for name, s in SCALES.items()
    )
    + """

examples:
  lake generate --out data/raw                       # default scale, clean
  lake generate --out /tmp/t --scale tiny --dirty-rate 0.02
  lake generate --out /tmp/big --scale large --gzip --format ndjson
"""
)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be between 0 and 0.5 (a share of rows), got {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate synthetic raw data files (clean or with known defects)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="output folder (created; an earlier run there is replaced, any other non-empty folder refused)",
    )
    parser.add_argument(
        "--seed",
        type=_non_negative,
        default=DEFAULT_SEED,
        metavar="N",
        help=f"random seed (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--scale", choices=list(SCALES), default="default", help="size preset (default: default)"
    )
    parser.add_argument(
        "--procedures",
        type=_non_negative,
        metavar="N",
        help="override the number of procedures (and outcomes), 1..899999",
    )
    parser.add_argument(
        "--samples-per-procedure",
        type=_non_negative,
        metavar="N",
        help="telemetry samples per completed/converted procedure (default 100)",
    )
    parser.add_argument(
        "--dirty-rate",
        type=_rate,
        default=0.0,
        metavar="F",
        help="share of rows to corrupt with realistic defects, 0..0.5 (default 0: clean)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="csv", help="transactional file format (default csv)"
    )
    parser.add_argument("--gzip", action="store_true", help="gzip every data file (adds .gz, reproducibly)")
    parser.add_argument(
        "--start-date",
        type=_date,
        default=DEFAULT_START,
        metavar="YYYY-MM-DD",
        help=f"first day of the data (default {DEFAULT_START}); the scale sets the number of days",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        opts = resolve(
            args.scale,
            seed=args.seed,
            procedures=args.procedures,
            samples_per_procedure=args.samples_per_procedure,
            dirty_rate=args.dirty_rate,
            fmt=args.format,
            gzip=args.gzip,
            start_date=args.start_date,
        )
        began = time.perf_counter()
        summary = generate(opts, args.out, progress=False if args.quiet else None)
    except GeneratorError as exc:
        print(f"lake generate: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        elapsed = time.perf_counter() - began
        rows = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
        print(
            f"wrote {summary.files} files ({summary.bytes / 1e6:.1f} MB) to {summary.out} "
            f"in {elapsed:.1f} s: {rows}",
            file=sys.stderr,
        )
    return 0

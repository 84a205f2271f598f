"""`lake demo|run|up|query|alerts|status`: the whole pipeline on one machine (local mode)."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from local.exceptions import LocalModeError
from local.tabular import FORMATS
from local.workdir import DEFAULT_WORKDIR, Workdir

WORKDIR_HELP = (
    f"folder that keeps the local lake between invocations (database, bucket mirror, queues); "
    f"default {DEFAULT_WORKDIR}"
)

WORKERS_HELP = (
    "ingest worker processes (concurrent Lambda invocations); default: two per CPU core, "
    "at most the function's reserved concurrency from cdk.json"
)


def _friendly(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn local-mode errors, and a database that went away, into one clear message and exit status 2."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        import psycopg

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        try:
            return func(args)
        except LocalModeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except psycopg.OperationalError as exc:
            print(lost_database_message(exc, getattr(args, "workdir", None)), file=sys.stderr)
            return 2

    return wrapper


def lost_database_message(exc: Exception, workdir: str | None) -> str:
    """One clear message for a PostgreSQL that stopped answering (never a traceback)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    where = f" --workdir {workdir}" if workdir else ""
    return (
        f"error: lost the connection to PostgreSQL ({lines[0] if lines else type(exc).__name__}).\n"
        "Nothing is lost: what loaded is committed, what failed is recorded in the ledger or kept in the\n"
        f"DLQ, and the workdir keeps its state. Once the database answers again: lake redrive{where}"
    )


@_friendly
def _run(args: argparse.Namespace) -> int:
    from local.commands import cmd_run

    report = Path(args.report_json) if args.report_json else None
    return cmd_run(Workdir.at(args.workdir), Path(args.input), report, args.workers)


@_friendly
def _redrive(args: argparse.Namespace) -> int:
    from local.commands import cmd_redrive

    return cmd_redrive(Workdir.existing(args.workdir), args.workers)


@_friendly
def _query(args: argparse.Namespace) -> int:
    from local.commands import cmd_query

    return cmd_query(Workdir.existing(args.workdir), args.sql, args.format)


@_friendly
def _status(args: argparse.Namespace) -> int:
    from local.commands import cmd_status

    return cmd_status(Workdir.existing(args.workdir))


@_friendly
def _up(args: argparse.Namespace) -> int:
    from local.commands import cmd_up

    return cmd_up(Workdir.at(args.workdir), args.rollup_after, api_port=None if args.no_api else args.api_port)


@_friendly
def _alerts(args: argparse.Namespace) -> int:
    from local.commands import cmd_alerts

    return cmd_alerts(Workdir.existing(args.workdir), args.format, args.facility, args.kind)


@_friendly
def _demo(args: argparse.Namespace) -> int:
    from local.demo import DemoOptions, cmd_demo

    opts = DemoOptions(
        scale=args.scale, seed=args.seed, dirty_rate=args.dirty_rate, fresh=args.fresh, workers=args.workers
    )
    return cmd_demo(Workdir.at(args.workdir), opts)


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter

    demo = subparsers.add_parser(
        "demo",
        help="generate data and run the whole pipeline locally, with a report",
        formatter_class=fmt,
        description=(
            "generate -> start the local stack -> upload to the raw bucket -> ETL (the real ingest\n"
            "Lambda) -> Glue rollups (Spark local mode) -> analytics views -> terminal summary and\n"
            "DIR/report.html (self-contained, opens offline). Prints the time of each stage."
        ),
    )
    demo.add_argument(
        "--workdir", default="data/demo", help="folder for input, state and report.html (default data/demo)"
    )
    demo.add_argument(
        "--scale",
        choices=("tiny", "default", "large"),
        default="default",
        help="data volume: tiny (seconds), default (~460k telemetry rows), large",
    )
    demo.add_argument("--seed", type=int, default=42, help="generator seed (same seed, same data)")
    demo.add_argument(
        "--dirty-rate", type=float, default=0.01, help="share of rows with an injected defect (default 0.01)"
    )
    demo.add_argument("--fresh", action="store_true", help="delete the workdir's previous local lake first")
    demo.add_argument("--workers", type=int, help=WORKERS_HELP)
    demo.set_defaults(func=_demo)

    run = subparsers.add_parser(
        "run",
        help="load a folder of raw files through the local pipeline",
        formatter_class=fmt,
        description=(
            "Uploads every file under --input to the raw bucket (its path relative to --input is\n"
            "the key; names starting with _ or . are skipped), processes the queue with the real\n"
            "ingest Lambda until nothing more can load, runs the rollups, and writes a JSON report.\n"
            "The workdir keeps the state: re-running the same input skips every object."
        ),
        epilog="example: lake run --input data/raw --workdir .lake --report-json report.json",
    )
    run.add_argument("--input", required=True, help="folder of raw files, e.g. the output of `lake generate`")
    run.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    run.add_argument(
        "--report-json", help="write the run report (objects, tables, parked, quarantined_rows) here"
    )
    run.add_argument("--workers", type=int, help=WORKERS_HELP)
    run.set_defaults(func=_run)

    up = subparsers.add_parser(
        "up",
        help="keep the local stack running; uploads are processed as in AWS",
        formatter_class=fmt,
        description=(
            "Starts moto (S3, SQS, Glue, Secrets Manager) and PostgreSQL, prints the endpoint and\n"
            "bucket names, and processes every upload (e.g. `aws --endpoint-url ... s3 cp`) until\n"
            "Ctrl-C, which saves the state to the workdir. Also serves the query API (`lake serve`)."
        ),
    )
    up.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    up.add_argument(
        "--rollup-after",
        type=float,
        default=10.0,
        help="seconds of quiet after new loads before the rollups are refreshed (default 10)",
    )
    up.add_argument("--api-port", type=int, default=8765, help="serve the query API here too (default 8765)")
    up.add_argument("--no-api", action="store_true", help="do not serve the query API")
    up.set_defaults(func=_up)

    query = subparsers.add_parser(
        "query",
        help="run SQL on the local analytics engine",
        formatter_class=fmt,
        description=(
            "DuckDB with the RDS tables (unqualified and as rds.* / rds_etl.*), the lake tables\n"
            "(lake.*) and the analytics views (analytics.*), as Redshift would show them."
        ),
        epilog='example: lake query "SELECT * FROM analytics.v_outcome_trend_monthly LIMIT 5"',
    )
    query.add_argument("sql", help="one SQL statement")
    query.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    query.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    query.set_defaults(func=_query)

    redrive = subparsers.add_parser(
        "redrive",
        help="move the ingest DLQ's messages back to the queue and process them",
        formatter_class=fmt,
        description=(
            "After an outage (the database or S3 away long enough for a message to use up its\n"
            "receives), the failed objects' messages sit in the DLQ. This moves them back to the\n"
            "ingest queue and processes them with the real handler: objects that loaded since (a\n"
            "re-run) are skipped, the rest load. With `lake up` running on the workdir, only the\n"
            "move happens and `lake up` processes them. In AWS: aws sqs start-message-move-task\n"
            "--source-arn <DLQ arn> (README, Ingest). Exit status 1 when messages remain in the DLQ."
        ),
        epilog="example: lake redrive --workdir .lake",
    )
    redrive.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    redrive.add_argument("--workers", type=int, help=WORKERS_HELP)
    redrive.set_defaults(func=_redrive)
    alerts = subparsers.add_parser(
        "alerts",
        help="list the alert events local mode raised (anomaly episodes, failure precursors)",
        formatter_class=fmt,
        description=(
            "Every alert event the local rollups raised in this workdir (state/alerts.ndjson), oldest\n"
            "first: the same JSON a hospital's SNS subscription receives in AWS. One event per robot\n"
            "and metric episode; re-runs and overlapping recomputes never raise one twice."
        ),
        epilog="example: lake alerts --workdir data/demo --facility FAC-003 --format json",
    )
    alerts.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    alerts.add_argument("--facility", help="only this facility's alerts, e.g. FAC-003")
    alerts.add_argument("--kind", choices=("anomaly_episode", "failure_precursor"), help="only this kind")
    alerts.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    alerts.set_defaults(func=_alerts)

    status = subparsers.add_parser(
        "status",
        help="ledger totals, rejections, stale attempts, unknown columns, parked rows, DLQ depth, last runs",
        description=(
            "What the local lake holds: ledger totals, objects rejected whole by reason, `processing`\n"
            "rows older than the function timeout (stale), column names the contract lacks, parked\n"
            "rows (and those refused when their parent came), DLQ depth and the last runs."
        ),
        formatter_class=fmt,
    )
    status.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    status.set_defaults(func=_status)

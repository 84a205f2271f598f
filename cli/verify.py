"""`lake verify`: after a deploy (or on a local workdir), prove data flows end to end."""

from __future__ import annotations

import argparse
import sys

from local.exceptions import LocalModeError
from verify.checks import VerifyError

DESCRIPTION = """\
Uploads the tiny generated data set (`lake generate --scale tiny`, clean) to the raw bucket under
<entity>/verify-<run id>/, waits until the ingest queue has drained (the DLQ is compared before
and after), then checks the counts against the generator's manifest: the ledger, the rows of each
RDS table (through Redshift's federated schemas, with the Redshift Data API) and the telemetry rows
in the lake (through Athena). Each check prints PASS or FAIL; the exit status is 0 when all pass.

Against local mode (--workdir) the same checks run on the local engines: the real ingest handler
drains the queue, DuckDB answers the warehouse SQL and reads the lake's Parquet. Counts are scoped
to the run, so a stack or workdir that already holds data can be verified again; the verification
rows stay (they are clean synthetic data: run it on a stack before production data arrives, or
accept a few synthetic robots in it).
"""


def _run(args: argparse.Namespace) -> int:
    from verify.run import Target, Timing, verify_with_tiny_set

    def say(line: str) -> None:
        print(line, flush=True)

    target: Target | None = None
    try:
        if args.stack:
            from verify.aws import AwsTarget, aws_clients

            target = AwsTarget(args.stack, aws_clients(args.region))
        else:
            from local.workdir import Workdir
            from verify.local import LocalTarget

            target = LocalTarget(Workdir.at(args.workdir))
        # Locally the queue is drained by this process and moto delivers notifications at once:
        # one empty poll means settled. In AWS the Lambda drains it: wait for three quiet polls.
        timing = Timing(args.timeout, 10.0, 3) if args.stack else Timing(args.timeout, 1.0, 1)
        checks = verify_with_tiny_set(target, args.seed, say, timing)
    except (VerifyError, LocalModeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if target is not None:
            target.close()
    return 0 if all(c.passed for c in checks) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="after a deploy: load the tiny data set and check every count (or on a local workdir)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DESCRIPTION,
        epilog="examples:\n  lake verify --stack surgical-lake-dev --region eu-west-1\n"
               "  lake verify --workdir data/verify",
    )
    where = verify.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="name of a deployed surgical-lake stack, e.g. surgical-lake-dev")
    where.add_argument("--workdir", help="a local-mode workdir (started and stopped by this command)")
    verify.add_argument("--region", help="AWS region of the stack (default: your AWS configuration)")
    verify.add_argument("--timeout", type=float, default=900.0,
                        help="seconds to wait for the ingest queue to drain (default 900)")
    verify.add_argument("--seed", type=int, default=42, help="generator seed of the tiny data set (default 42)")
    verify.set_defaults(func=_run)

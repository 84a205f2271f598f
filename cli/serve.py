"""`lake serve` and `lake token`: the query API on this machine (local/api_server.py)."""

from __future__ import annotations

import argparse
import re

from api.principal import FACILITY_GROUP_PREFIX
from api.tokens import DEFAULT_HOURS
from cli.local_mode import WORKDIR_HELP, _friendly
from lake.contract import FACILITY_ID
from local.api_server import DEFAULT_PORT
from local.exceptions import InputError
from local.workdir import DEFAULT_WORKDIR, Workdir


@_friendly
def _serve(args: argparse.Namespace) -> int:
    from local.api_server import cmd_serve

    return cmd_serve(Workdir.at(args.workdir), args.port, tuple(args.cors_origin or ()), open_browser=args.open)


@_friendly
def _token(args: argparse.Namespace) -> int:
    from api.principal import Principal
    from api.tokens import TokenError, issue, signing_key

    bad = [f for f in args.facility or () if not re.fullmatch(FACILITY_ID, f)]
    if bad:
        raise InputError(f"--facility takes ids like FAC-003, not {bad[0]!r}")
    if not args.facility and not args.admin:
        raise InputError("a token must grant something: --facility FAC-003 (repeatable) or --admin")
    groups = [f"{FACILITY_GROUP_PREFIX}{f}" for f in args.facility or ()]
    groups += ["admin"] * args.admin + ["phi:pseudonymized"] * args.phi
    workdir = Workdir.at(args.workdir)
    try:
        token = issue(signing_key(workdir.state_dir, rotate=args.rotate_key),
                      Principal.from_groups(args.subject, groups), hours=args.hours)
    except TokenError as exc:
        raise InputError(str(exc)) from exc
    print(token)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    serve = subparsers.add_parser(
        "serve", help="serve the query API (same code as in AWS) on 127.0.0.1", formatter_class=fmt,
        description=(
            "The authenticated query API over the workdir's PostgreSQL and the local analytics engine\n"
            "(DuckDB), on 127.0.0.1: /v1/robots, /v1/procedures, /v1/views/{view}, ... with docs at\n"
            "/v1/docs, and the dashboard at / (built with `make web`). Requests need a token from\n"
            "`lake token`; --open starts a browser signed in as the local user (admin). Reuses the\n"
            "database of a running `lake up`; new loads show up within seconds. Ctrl-C stops it."),
        epilog="example: lake serve --workdir data/demo   then   TOKEN=$(lake token --workdir data/demo --admin)",
    )
    serve.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    serve.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                       help="allow browser calls from this origin, e.g. http://localhost:5173 (repeatable)")
    serve.add_argument("--open", action="store_true",
                       help="open the dashboard in a browser, signed in as the local user (admin token, 12 h)")
    serve.set_defaults(func=_serve)

    token = subparsers.add_parser(
        "token", help="print a bearer token for `lake serve`", formatter_class=fmt,
        description=(
            "Prints a token signed with the workdir's key (state/api-token.key, owner-only), granting\n"
            "the facilities given (and admin / patient-level fields when asked). It carries the same\n"
            "groups a Cognito user would have in AWS."),
        epilog="example: curl -H \"Authorization: Bearer $(lake token --facility FAC-003)\" "
               f"http://127.0.0.1:{DEFAULT_PORT}/v1/robots",
    )
    token.add_argument("--facility", action="append", metavar="FAC-003", help="facility to grant (repeatable)")
    token.add_argument("--admin", action="store_true", help="every facility and the ingest ledger")
    token.add_argument("--phi", action="store_true",
                       help="patient-level fields (patient_key, age at procedure, 90+ flag, ZIP3)")
    token.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help=WORKDIR_HELP)
    token.add_argument("--hours", type=float, default=DEFAULT_HOURS, help=f"lifetime (default {DEFAULT_HOURS:g} h)")
    token.add_argument("--subject", default="local-user", help="who the access log names (default local-user)")
    token.add_argument("--rotate-key", action="store_true", help="new signing key: every earlier token stops working")
    token.set_defaults(func=_token)

"""`lake`: the command line of surgical-lake.

Each area's subcommands live in one module of this package (`register(subparsers)`), so this
file stays a table of contents. The CLI is the top of the house: it imports the areas, nothing
imports it (lake/ ships to Lambda and Glue without it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli import generate, local_mode, serve, verify

# Modules that contribute subcommands, in the order `lake --help` lists them.
COMMAND_MODULES = (generate, local_mode, serve, verify)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lake",
        description=(
            "surgical-lake: an AWS data lake for surgical-robotics data. Generate synthetic "
            "data, run the whole pipeline locally, query it. Deploy to AWS with `cdk deploy` "
            "(see README)."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
            return int(args.func(args) or 0)
        finally:
            sys.stdout.flush()  # a reader that left (`lake ... | head`) shows here, not at exit
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # say nothing more: the recipe of Python's `signal` docs (SIGPIPE)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())

"""`lake`: the command line of surgical-lake.

Each area registers its own subcommands (`register(subparsers)` in its `cli` module) so this
file stays a table of contents.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that contribute subcommands, in the order `lake --help` lists them.
COMMAND_MODULES = ("generators.cli", "local.cli", "api.cli", "verify.cli")


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
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

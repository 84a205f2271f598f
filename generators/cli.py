"""`lake generate`: write realistic synthetic raw files laid out as the raw bucket's keys."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="generate synthetic raw data files")
    parser.set_defaults(func=lambda args: parser.error("not implemented yet"))

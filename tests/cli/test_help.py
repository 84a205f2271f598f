"""`lake --help` and each subcommand's help: the table of contents, and only names that exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from cli.main import build_parser
from lambdas.athena_sql.handler import view_name

ROOT = Path(__file__).resolve().parents[2]


def _subcommand_helps() -> dict[str, str]:
    parser = build_parser()
    [subparsers] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub.format_help() for name, sub in subparsers.choices.items()}


def test_every_promised_subcommand_is_listed():
    # GIVEN the commands the README and the issues promise WHEN the parser is built THEN each is there
    assert set(_subcommand_helps()) >= {"generate", "demo", "run", "up", "query", "redrive", "alerts",
                                        "status", "serve", "token", "verify"}


def test_every_view_a_help_text_cites_exists():
    # GIVEN the views sql/redshift creates (by the deploy's own rule for "this file creates a view")
    views = {view_name(p.read_text()) for p in (ROOT / "sql" / "redshift").glob("*.sql")} - {None}
    # WHEN every help text is searched for analytics.<view>
    cited = {m for text in _subcommand_helps().values() for m in re.findall(r"analytics\.(\w+)", text)}
    # THEN each cited view is one of them (a help example must run as printed)
    assert cited and cited <= views, sorted(cited - views)

"""The command line's answers to a user's mistakes: one line with a reason, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv", [
    ["query", "SELECT 1"],
    ["status"],
    ["alerts"],
    ["redrive"],
])
def test_reading_commands_refuse_a_workdir_that_holds_no_lake_and_create_nothing(tmp_path, capsys, argv):
    # GIVEN a path no command has made a workdir at
    missing = tmp_path / "typo"
    # WHEN a command that only reads a local lake is pointed at it
    code = main([*argv, "--workdir", str(missing)])
    # THEN it exits 2 with the way to make one, and leaves the path as it was
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {missing} holds no local lake yet: run `lake demo"), err
    assert not missing.exists()


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    # GIVEN `lake token` piped into a reader that exits without reading (as `head -c 40` does once
    # it has its bytes)
    proc = subprocess.run(f"{sys.executable} -m cli token --workdir {tmp_path} --facility FAC-003 | true",
                          shell=True, cwd=REPO, capture_output=True, text=True, check=False)
    # THEN no BrokenPipeError traceback reaches the terminal
    assert proc.stderr == "", proc.stderr

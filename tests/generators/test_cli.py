"""`lake generate` explains itself and fails clearly on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from tests.generators.conftest import run_generate


def test_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN asking for help
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--help"])
    # THEN it exits 0 and documents every flag and the scales
    text = capsys.readouterr().out
    assert exit_info.value.code == 0
    for flag in (
        "--out",
        "--seed",
        "--scale",
        "--procedures",
        "--samples-per-procedure",
        "--dirty-rate",
        "--format",
        "--gzip",
        "--start-date",
        "_ground_truth.ndjson",
        "tiny",
        "large",
    ):
        assert flag in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dirty-rate", "-0.1"], "between 0 and 0.5"),
        (["--dirty-rate", "lots"], "not a number"),
        (["--procedures", "-5"], "must be >= 0"),
        (["--start-date", "01/02/2025"], "not an ISO date"),
        (["--format", "xml"], "invalid choice"),
    ],
)
def test_bad_flags_are_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    # WHEN a flag has a bad value
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--out", str(tmp_path / "x"), *args])
    # THEN argparse stops with exit code 2 and says why; nothing is written
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_zero_procedures_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tmp_path / "x"), "--procedures", "0"]) == 2
    assert "--procedures must be between 1" in capsys.readouterr().err


def test_output_under_a_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a path whose parent is a regular file (cannot be created, even as root)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # WHEN generating there
    code = main(["generate", "--out", str(blocker / "raw"), "--scale", "tiny", "--quiet"])
    # THEN it fails with a message, not a traceback
    assert code == 2
    assert "cannot create" in capsys.readouterr().err


def test_refuses_a_foreign_non_empty_folder_but_replaces_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a folder with someone else's file
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    # THEN generating into it is refused and the file survives
    assert main(["generate", "--out", str(foreign), "--scale", "tiny", "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err and (foreign / "notes.txt").exists()
    # AND a previous gzip run is replaced by a plain one without stale .gz files
    out = run_generate(tmp_path / "own", "--scale", "tiny", "--gzip")
    run_generate(out, "--scale", "tiny")
    assert not list(out.rglob("*.gz")) and list(out.rglob("*.csv"))

"""Generated folders shared by the generator tests (tiny scale: about a second each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main


def run_generate(out: Path, *args: str) -> Path:
    assert main(["generate", "--out", str(out), "--quiet", *args]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_generate(tmp_path_factory.mktemp("clean") / "raw", "--scale", "tiny")


@pytest.fixture(scope="session")
def tiny_dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_generate(tmp_path_factory.mktemp("dirty") / "raw", "--scale", "tiny", "--dirty-rate", "0.02")


@pytest.fixture(scope="session")
def tiny_dirty_ndjson_gz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_generate(
        tmp_path_factory.mktemp("dirtygz") / "raw",
        "--scale",
        "tiny",
        "--dirty-rate",
        "0.05",
        "--format",
        "ndjson",
        "--gzip",
        "--seed",
        "7",
    )

"""Lambda and Glue assets built without Docker, at the dependency versions the tests run.

`aws-lambda-python-alpha` always bundles in a container; this machine (and many CI runners)
has no Docker engine. `LocalPipBundler` implements CDK's `ILocalBundling`: it installs a
function's requirements as manylinux wheels for the Lambda runtime (CPython 3.12, x86_64) with
pip, at the exact versions of `constraints.txt` (the file the dev venv is installed with), drops
what only building needs (`PRUNE`), and copies the project's own packages next to them. Nothing
comes from a layer or from the runtime's own boto3 (docs/adr/0006-lambda-bundles-pinned-wheels.md).
pip output is cached per input digest under `.cdk-bundle-cache/` (gitignored), which keeps
repeated synths fast and lets them run offline once warmed.

Example:
    >>> code = lambda_code(REPO_ROOT / "lambdas/migrate/requirements.txt", ("sql/rds",))
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.config import REPO_ROOT, MissingPartError

CACHE_DIR = Path(os.environ.get("SURGICAL_LAKE_BUNDLE_CACHE", REPO_ROOT / ".cdk-bundle-cache"))
CONSTRAINTS = REPO_ROOT / "constraints.txt"
# The one Lambda runtime: python3.12 on Amazon Linux 2023 (glibc 2.34), x86_64; deprecation
# scheduled for Oct 31, 2028, python3.11's years earlier (AWS Lambda docs, "Building Lambda
# functions with Python"). The tests run the bundles under CPython 3.12 too.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_12
LAMBDA_PYTHON_VERSION = "3.12"
PIP_PLATFORM_ARGS = (
    # pyarrow >= 21 publishes manylinux_2_28 wheels only; AL2023's glibc runs both tags.
    "--platform", "manylinux_2_28_x86_64",
    "--platform", "manylinux2014_x86_64",
    "--implementation", "cp",
    "--python-version", LAMBDA_PYTHON_VERSION,
    "--only-binary=:all:",
)
# Build-time files in the wheels (headers, Cython sources, their own test suites) and the Arrow
# Flight RPC libraries nothing here imports: 53 MB of the ingest's 263 MB of wheels, which would
# not fit Lambda's 262,144,000 bytes otherwise (measured in ADR 0006). Everything the code imports
# stays; tests/infra/test_lambda_runtime.py runs the handler on the pruned bundle.
PRUNE = (
    "pyarrow/include", "pyarrow/includes", "pyarrow/src", "pyarrow/tests", "pyarrow/**/*.pyx",
    "pyarrow/**/*.pxd", "pyarrow/**/*.pxi", "pyarrow/_pyarrow_cpp_tests*", "pyarrow/_flight*.so",
    "pyarrow/libarrow_flight.so*", "pyarrow/libarrow_python_flight.so*",
    # Copies of a shared library under its link-time names; the loader opens the SONAME (.so.NNNN).
    "pyarrow/libarrow_python*.so", "pyarrow/libarrow_python*.so.*.*.*",
    "numpy/**/tests", "numpy/_core/include",
    "bin",  # console scripts pip writes with this machine's interpreter in their shebang
)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


class BundlingError(RuntimeError):
    """pip could not build the dependency folder of a Lambda asset."""


def requirements_digest(requirements: Path) -> str:
    """Cache key: the requirements and constraints text, the target platform and the pruning."""
    if not requirements.is_file():
        raise MissingPartError(f"requirements file {requirements} does not exist")
    key = "\n".join((requirements.read_text(), CONSTRAINTS.read_text(), *PIP_PLATFORM_ARGS, *PRUNE))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def prune(folder: Path) -> int:
    """Delete what `PRUNE` names under `folder`; the bytes removed."""
    removed = 0
    for pattern in PRUNE:
        for path in sorted(folder.glob(pattern), reverse=True):
            if not path.exists():
                continue  # inside a folder removed by an earlier match
            if path.is_dir():
                removed += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                shutil.rmtree(path)
            else:
                removed += path.stat().st_size
                path.unlink()
    return removed


def install_requirements(requirements: Path, cache_dir: Path | None = None) -> Path:
    """pip-install `requirements` (with `constraints.txt`) for the Lambda platform once; the folder."""
    target = (cache_dir or CACHE_DIR) / f"pip-{requirements_digest(requirements)}"
    if (target / ".complete").exists():
        return target
    # A per-process staging folder, renamed into place atomically: parallel test workers (or two
    # synths) may build the same entry at once; the first rename wins, the other is discarded.
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "-r", str(requirements), "-c", str(CONSTRAINTS), "--target", str(staging), *PIP_PLATFORM_ARGS,
    ]
    print(f"[bundling] pip install -r {requirements} (cached in {target})", file=sys.stderr)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundlingError(f"pip failed for {requirements}:\n{result.stderr[-2000:]}")
    prune(staging)
    (staging / ".complete").touch()
    if target.exists() and not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)  # left over by an interrupted run
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process finished first
    return target


@jsii.implements(ILocalBundling)
class LocalPipBundler:
    """Builds an asset folder: cached pip output (when given requirements) + repository folders."""

    def __init__(self, requirements: Path | None, source_dirs: Sequence[str]) -> None:
        self.requirements = requirements
        self.source_dirs = tuple(source_dirs)

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        if self.requirements is not None:
            deps = install_requirements(self.requirements)
            shutil.copytree(deps, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
        for rel in self.source_dirs:
            src = REPO_ROOT / rel
            if not src.is_dir():
                raise MissingPartError(f"asset source {rel} does not exist")
            shutil.copytree(src, out / rel, dirs_exist_ok=True, ignore=_IGNORE)
        return True


def bundled_asset_options(requirements: Path | None, source_dirs: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for `Code.from_asset` / `s3_assets.Asset` with local bundling.

    `requirements=None` is a pure-source asset (the Glue job's `lake` library). The hash is
    taken from the bundled output, so an unchanged bundle gives an unchanged asset (and no
    Lambda update) while any change in the copied code or the wheels gives a new one.
    """
    # CDK caches bundles per (source path, bundling options) within one synth: this marker keeps
    # two assets built from the same folder with different contents from sharing one bundle.
    digest = requirements_digest(requirements) if requirements is not None else "no-requirements"
    marker = f"{digest}:{','.join(source_dirs)}"
    return {
        "asset_hash_type": AssetHashType.OUTPUT,
        "bundling": BundlingOptions(
            environment={"SURGICAL_LAKE_BUNDLE": marker},
            # Never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=LocalPipBundler(requirements, source_dirs),
        ),
    }


def lambda_code(requirements: Path, source_dirs: Sequence[str]) -> lambda_.Code:
    """Lambda code asset: pinned dependencies + `lambdas/` + `lake/` (+ any extra folders).

    Raises MissingPartError when `requirements` or a source folder is missing: a function
    without its dependencies must fail the synth, not deploy and fail at its first import.
    """
    dirs = ("lambdas", "lake", *source_dirs)
    return lambda_.Code.from_asset(str(REPO_ROOT / "lambdas"), **bundled_asset_options(requirements, dirs))

"""Lambda and Glue assets built without Docker.

`aws-lambda-python-alpha` always bundles in a container; this machine (and many CI runners)
has no Docker engine. `LocalPipBundler` implements CDK's `ILocalBundling`: it installs the
requirements as manylinux wheels for the Lambda runtime (CPython 3.12, x86_64) with pip and
copies the project's own packages next to them, so the code the tests import is the code that
deploys. pip output is cached per requirements hash under `.cdk-bundle-cache/` (gitignored),
which keeps repeated synths fast and lets them run offline once warmed.

Example:
    >>> code = lambda_code("migrate", requirements=REPO_ROOT / "lambdas/migrate/requirements.txt",
    ...                    extra_dirs=("sql/rds",))
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

from infra.config import REPO_ROOT

CACHE_DIR = Path(os.environ.get("SURGICAL_LAKE_BUNDLE_CACHE", REPO_ROOT / ".cdk-bundle-cache"))
PIP_PLATFORM_ARGS = (
    "--platform", "manylinux2014_x86_64",
    "--implementation", "cp",
    "--python-version", "3.12",
    "--only-binary=:all:",
)
# Packages the Lambda runtime (boto3) or the AWSSDKPandas layer (pyarrow, pandas, numpy) provide:
# bundling them again would only grow the package towards the 250 MB limit.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer", "pyarrow", "pandas", "numpy")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


class BundlingError(RuntimeError):
    """pip could not build the dependency folder for a Lambda asset."""


def requirements_digest(requirements: Path | None) -> str:
    """Cache key: the requirements text plus the target platform (not the file's mtime)."""
    text = requirements.read_text() if requirements and requirements.exists() else ""
    key = "\n".join((text, *PIP_PLATFORM_ARGS, *PROVIDED_BY_RUNTIME))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def prune_provided(folder: Path) -> list[str]:
    """Remove packages (and their dist-info/libs) that the runtime or the layer provide."""
    removed = []
    for path in sorted(folder.iterdir()):
        stem = path.name.split("-")[0].split(".")[0].lower()
        if stem in PROVIDED_BY_RUNTIME:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path.name)
    return removed


def install_requirements(requirements: Path | None, cache_dir: Path | None = None) -> Path | None:
    """pip-install `requirements` for the Lambda platform once; return the cached folder.

    A missing requirements file means "no third-party dependencies" (None), so an asset whose
    owner has not written its requirements yet still synthesizes.
    """
    if requirements is None or not requirements.exists():
        return None
    target = (cache_dir or CACHE_DIR) / f"pip-{requirements_digest(requirements)}"
    if (target / ".complete").exists():
        return target
    # A per-process staging folder, renamed into place atomically: parallel test workers (or two
    # synths) may build the same entry at once; the first rename wins, the other is discarded.
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "-r", str(requirements), "--target", str(staging), *PIP_PLATFORM_ARGS,
    ]
    print(f"[bundling] pip install -r {requirements} (cached in {target})", file=sys.stderr)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundlingError(f"pip failed for {requirements}:\n{result.stderr[-2000:]}")
    prune_provided(staging)
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
    """Builds an asset folder: cached pip output + the listed repository folders."""

    def __init__(self, requirements: Path | None, source_dirs: Sequence[str]) -> None:
        self.requirements = requirements
        self.source_dirs = tuple(source_dirs)

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        deps = install_requirements(self.requirements)
        if deps is not None:
            shutil.copytree(deps, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
        for rel in self.source_dirs:
            src = REPO_ROOT / rel
            if not src.exists():
                raise BundlingError(f"asset source {rel} does not exist")
            shutil.copytree(src, out / rel, dirs_exist_ok=True, ignore=_IGNORE)
        return True


def bundled_asset_options(requirements: Path | None, source_dirs: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for `Code.from_asset` / `s3_assets.Asset` with local bundling.

    The hash is taken from the bundled output, so an unchanged bundle gives an unchanged asset
    (and no Lambda update) while any change in the copied code or the wheels gives a new one.
    """
    # CDK caches bundles per (source path, bundling options) within one synth: this marker keeps
    # two assets built from the same folder with different contents from sharing one bundle.
    marker = f"{requirements_digest(requirements)}:{','.join(source_dirs)}"
    return {
        "asset_hash_type": AssetHashType.OUTPUT,
        "bundling": BundlingOptions(
            environment={"SURGICAL_LAKE_BUNDLE": marker},
            # Never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=LocalPipBundler(requirements, source_dirs),
        ),
    }


def lambda_code(requirements: Path | None, source_dirs: Sequence[str]) -> lambda_.Code:
    """Lambda code asset: dependencies + `lambdas/` + `lake/` (+ any extra folders)."""
    dirs = ("lambdas", "lake", *source_dirs)
    return lambda_.Code.from_asset(str(REPO_ROOT / "lambdas"), **bundled_asset_options(requirements, dirs))
